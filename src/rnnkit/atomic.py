"""Atomic writes: a file or a directory appears complete under its final name, or not at all."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk, then rename it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def staging_directory(final: Path) -> Path:
    """A new empty directory beside ``final`` to fill before :func:`publish_directory`."""
    final.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.tmp-"))


def publish_directory(staged: Path, final: Path) -> None:
    """Move a filled staging directory to ``final``, replacing an older one.

    The old directory is first renamed aside, so ``final`` never holds a mix of old and new files.
    """
    aside = None
    if final.exists():
        aside = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.old-"))
        os.replace(final, aside / final.name)
    os.replace(staged, final)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
