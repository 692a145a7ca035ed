"""Atomic writes: a file or a directory appears complete under its final name, or not at all."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp/mkdtemp create private (0600/0700) entries; published ones get the usual permissions.
FILE_MODE = 0o666 & ~_current_umask()
DIR_MODE = 0o777 & ~_current_umask()


def _write_synced(path: Path, data: bytes, fd: int | None = None) -> None:
    with os.fdopen(fd, "wb") if fd is not None else open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(path, FILE_MODE)


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk, then rename it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        _write_synced(Path(tmp), data, fd)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_directory(final: Path, files: dict[str, bytes]) -> None:
    """Create the directory ``final`` holding exactly ``files``, replacing an older one whole.

    The files are written into a hidden staging directory beside ``final``; the old directory is
    renamed aside, the staged one renamed into place, and only then is the old one deleted. If
    the swap fails, the old directory is put back.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.tmp-"))
    aside = None
    try:
        for name, data in files.items():
            _write_synced(staged / name, data)
        os.chmod(staged, DIR_MODE)
        if final.exists():
            aside = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.old-")) / final.name
            os.replace(final, aside)
        os.replace(staged, final)
    except BaseException:
        if aside is not None and not final.exists():
            os.replace(aside, final)
        shutil.rmtree(staged, ignore_errors=True)
        if aside is not None:
            shutil.rmtree(aside.parent, ignore_errors=True)
        raise
    if aside is not None:
        shutil.rmtree(aside.parent, ignore_errors=True)
