"""rnnkit: train, evaluate, save and serve recurrent networks for text classification, tagging,
language modelling, translation and forecasting on a CPU."""

import os

__version__ = "0.3.0"

# A training or prediction batch allocates tensors of tens of MB at every step; with 4 KiB pages each
# costs thousands of page faults, a third of a step on a 2-core machine. PyTorch's own switch
# THP_MEM_ALLOC_ENABLE makes its CPU allocator request transparent huge pages for large blocks. It is
# read once, when torch allocates its first tensor, so it is set before torch is imported (when
# rnnkit is imported first), and a value the user set wins.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

from rnnkit.tasks import load_model
from rnnkit.tasks.classification.estimator import TextClassifier
from rnnkit.tasks.forecasting.estimator import Forecaster
from rnnkit.tasks.language_model.estimator import LanguageModel
from rnnkit.tasks.series_classification.estimator import SeriesClassifier
from rnnkit.tasks.tagging.estimator import SequenceTagger
from rnnkit.tasks.translation.estimator import Translator

__all__ = [
    "Forecaster",
    "LanguageModel",
    "SequenceTagger",
    "SeriesClassifier",
    "TextClassifier",
    "Translator",
    "__version__",
    "load_model",
]
