"""Atomic writes: a file or a directory appears complete under its final name, or not at all.

Files are written under a temporary name beside their target, flushed to disk and renamed into
place (``rename`` is atomic). A directory is staged the same way; replacing an existing one uses
Linux's ``renameat2(RENAME_EXCHANGE)``, which swaps the two names in one step, so there is no
moment at which the final name is missing, even if the process is killed (elsewhere, the old
directory is renamed aside first, a window of two renames).

Temporary names carry the writer's process id: a later write removes what a killed writer left.
"""

from __future__ import annotations

import ctypes
import errno
import glob
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

_AT_FDCWD, _RENAME_EXCHANGE = -100, 2
_renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)


def _exchange(a: Path, b: Path) -> bool:
    """Swap the names ``a`` and ``b`` atomically; False where the system cannot (then nothing changed)."""
    if _renameat2 is None:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # file system or kernel without it
        return False
    raise OSError(code, os.strerror(code), str(b))


def _temporary_prefix(final: Path) -> str:
    return f".{final.name}.tmp-{os.getpid()}-"


def _remove_leftovers(final: Path) -> None:
    """Clean up after a writer of ``final`` that was killed (its process no longer exists).

    Its temporary entries are deleted, except one case: killed between the two renames of the
    fallback swap, it left ``final`` missing and the old version aside, which is put back.
    """
    for entry in final.parent.glob(glob.escape(f".{final.name}.tmp-") + "*"):
        pid = entry.name[len(f".{final.name}.tmp-") :].split("-", 1)[0]
        if not pid.isdigit() or _process_exists(int(pid)):
            continue
        if (entry / final.name).is_dir() and not final.exists():
            os.replace(entry / final.name, final)
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


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
    _remove_leftovers(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_temporary_prefix(path))
    try:
        _write_synced(Path(tmp), data, fd)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def write_directory(final: Path, files: dict[str, bytes]) -> None:
    """Create the directory ``final`` holding exactly ``files``, replacing an older one whole.

    The files are written into a staging directory beside ``final``, which then takes the final
    name in one atomic exchange (or, where that is unavailable, after the old directory is renamed
    aside); the old directory is deleted last. If anything fails, the old directory stays.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(final)
    staged = Path(tempfile.mkdtemp(dir=final.parent, prefix=_temporary_prefix(final)))
    try:
        for name, data in files.items():
            _write_synced(staged / name, data)
        os.chmod(staged, DIR_MODE)
        _fsync_directory(staged)
        if not final.exists():
            os.replace(staged, final)
        elif not _exchange(staged, final):
            aside = Path(tempfile.mkdtemp(dir=final.parent, prefix=_temporary_prefix(final)))
            os.replace(final, aside / final.name)
            try:
                os.replace(staged, final)
            except BaseException:
                os.replace(aside / final.name, final)  # if this fails too, the old version stays aside
                aside.rmdir()
                raise
            shutil.rmtree(aside, ignore_errors=True)
        _fsync_directory(final.parent)
    finally:
        shutil.rmtree(staged, ignore_errors=True)  # after an exchange, this is the old directory


def _fsync_directory(path: Path) -> None:
    """Make renames and new entries in ``path`` durable (a power cut after the rename keeps them)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
