"""Errors a user can cause.

Everything rnnkit raises on purpose derives from :class:`RnnkitError`, so the CLI can turn it into
one line on stderr and exit code 2, and Python callers can catch one type. The subclasses also
derive from the built-in type a Python user would expect (``ValueError``, ``FileNotFoundError``).
"""


class RnnkitError(Exception):
    """Base class of every error rnnkit reports to the user."""


class DataError(RnnkitError, ValueError):
    """The input data cannot be read or used (missing column, empty file, one class, ...)."""


class DataFileNotFoundError(DataError, FileNotFoundError):
    """A data file or directory does not exist."""


class ConfigError(RnnkitError, ValueError):
    """An option has a value outside its allowed range or set."""


class BundleError(RnnkitError, ValueError):
    """A model directory is missing, incomplete, corrupt or from a newer rnnkit."""


class CheckpointError(RnnkitError, ValueError):
    """A training checkpoint is missing or corrupt, or belongs to other data or settings."""


class TrainingInterrupted(RnnkitError):
    """Training stopped on the user's request (Ctrl-C) after saving its state in a checkpoint."""

    def __init__(self, message: str, checkpoint: str):
        super().__init__(message)
        self.checkpoint = checkpoint


class TrainingDiverged(RnnkitError):
    """The training loss became NaN or infinite: the learning rate is too high for the data."""
