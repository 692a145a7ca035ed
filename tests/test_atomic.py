"""Atomic writes: whole replacement, both swap paths, and clean-up after a killed writer."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rnnkit.store import atomic


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.fixture(params=["exchange", "two renames"])
def swap(request, monkeypatch):
    """Run a test with the atomic exchange and again with the fallback used where it is missing."""
    if request.param == "two renames":
        monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    return request.param


def test_a_directory_is_replaced_whole_and_nothing_is_left_beside_it(tmp_path, swap):
    final = tmp_path / "model [v1]"  # glob characters in the name must not confuse the clean-up
    atomic.write_directory(final, {"a.json": b"1", "b.bin": b"old"})
    atomic.write_directory(final, {"a.json": b"2"})
    assert sorted(p.name for p in final.iterdir()) == ["a.json"]
    assert (final / "a.json").read_bytes() == b"2"
    assert [p.name for p in tmp_path.iterdir()] == ["model [v1]"]


def test_the_exchange_is_used_where_the_system_has_it(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("from a")
    if not atomic._exchange(a, b):
        pytest.skip("no renameat2(RENAME_EXCHANGE) here")
    assert (b / "x").read_text() == "from a" and not (a / "x").exists()


def test_a_failed_exchange_keeps_the_old_directory(tmp_path, monkeypatch):
    final = tmp_path / "model"
    atomic.write_directory(final, {"a.json": b"old"})

    def refuse(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic, "_exchange", refuse)
    with pytest.raises(OSError):
        atomic.write_directory(final, {"a.json": b"new"})
    assert (final / "a.json").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_a_failed_second_rename_puts_the_old_directory_back(tmp_path, monkeypatch):
    final = tmp_path / "model"
    atomic.write_directory(final, {"a.json": b"old"})
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    real_replace = atomic.os.replace

    def refuse_the_staged_one(src, dst):
        if Path(dst) == final and Path(src).parent == tmp_path:  # staged -> final, not aside -> final
            raise OSError(5, "Input/output error")
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", refuse_the_staged_one)
    with pytest.raises(OSError):
        atomic.write_directory(final, {"a.json": b"new"})
    monkeypatch.undo()
    assert (final / "a.json").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_leftovers_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    final = tmp_path / "model"
    dead = _dead_pid()
    (tmp_path / f".model.tmp-{dead}-abc").mkdir()
    (tmp_path / f".model.tmp-{dead}-abc" / "half.bin").write_bytes(b"half")
    (tmp_path / f".preds.csv.tmp-{dead}-xyz").write_bytes(b"half")
    live = tmp_path / ".model.tmp-1-live"  # pid 1 exists: someone is writing, leave it alone
    live.mkdir()
    atomic.write_directory(final, {"a.json": b"1"})
    atomic.write_bytes(tmp_path / "preds.csv", b"x")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".model.tmp-1-live", "model", "preds.csv"]


def test_an_old_version_left_aside_by_a_killed_swap_is_put_back(tmp_path):
    """Killed between the two renames of the fallback: the final name is missing, the old version aside."""
    final = tmp_path / "checkpoint"
    aside = tmp_path / f".checkpoint.tmp-{_dead_pid()}-aside" / "checkpoint"
    aside.mkdir(parents=True)
    (aside / "state").write_text("the last good state")
    atomic._remove_leftovers(final)
    assert (final / "state").read_text() == "the last good state"
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint"]


def test_a_file_is_replaced_whole(tmp_path):
    path = tmp_path / "sub" / "preds.csv"
    atomic.write_bytes(path, b"first")
    atomic.write_bytes(path, b"second")
    assert path.read_bytes() == b"second"
    assert [p.name for p in path.parent.iterdir()] == ["preds.csv"]
