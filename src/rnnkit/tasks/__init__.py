"""The tasks: what differs between classification, tagging, language modelling, translation and
forecasting (targets, head, loss, decoding, metrics); and :func:`load_model`, which reads any bundle
into the estimator of its task."""

from __future__ import annotations

from pathlib import Path

from rnnkit.store.bundle import read_config
from rnnkit.tasks.classification import bundle as classifier_files
from rnnkit.tasks.forecasting import bundle as forecaster_files
from rnnkit.tasks.language_model import bundle as language_model_files
from rnnkit.tasks.series_classification import bundle as series_classifier_files
from rnnkit.tasks.tagging import bundle as tagger_files
from rnnkit.tasks.translation import bundle as translator_files

LOADERS = {
    classifier_files.FORMAT: classifier_files,
    tagger_files.FORMAT: tagger_files,
    language_model_files.FORMAT: language_model_files,
    translator_files.FORMAT: translator_files,
    forecaster_files.FORMAT: forecaster_files,
    series_classifier_files.FORMAT: series_classifier_files,
}


def load_model(path: str | Path):
    """The estimator saved in the bundle directory ``path`` (``TextClassifier``, ``SequenceTagger``,
    ``LanguageModel``, ``Translator``, ``Forecaster`` or ``SeriesClassifier``), refusing anything
    incomplete or inconsistent with :class:`~rnnkit.errors.BundleError`."""
    path = Path(path)
    config = read_config(path, {name: task.FORMAT_VERSION for name, task in LOADERS.items()})
    return LOADERS[config["format"]].load(path, config)
