"""rnnkit: train, evaluate, save and serve recurrent text classifiers on a CPU."""

__version__ = "0.1.0"

from rnnkit.bundle import load_model
from rnnkit.estimator import TextClassifier

__all__ = ["TextClassifier", "__version__", "load_model"]
