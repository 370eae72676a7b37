"""kvae.atomic: a file is replaced whole or not at all."""

import subprocess
import sys

import pytest

from kvae import atomic


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "metrics.json"
    atomic.write_text(path, "old")
    with pytest.raises(RuntimeError, match="killed"):
        with atomic.replacing(path) as tmp:
            tmp.write_text("half of the new")
            raise RuntimeError("killed mid-write")
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_the_temporary_name_is_hidden_and_keeps_the_suffix(tmp_path):
    with atomic.replacing(tmp_path / "model.keras") as tmp:
        assert tmp.name.startswith(".") and tmp.suffix == ".keras" and tmp.parent == tmp_path
        (tmp / "inside").mkdir(parents=True)  # a folder works too (a SavedModel, say)
    assert (tmp_path / "model.keras" / "inside").is_dir()
    with pytest.raises(ValueError):
        with atomic.replacing(tmp_path / "dir.out") as tmp:
            tmp.mkdir()
            raise ValueError
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]


_WRITER = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("atomic", sys.argv[1])
atomic = importlib.util.module_from_spec(spec)
spec.loader.exec_module(atomic)
for i in range(int(sys.argv[3])):
    atomic.write_text(sys.argv[2], sys.argv[4] * 1000)
"""


def test_two_processes_writing_one_file_never_break_each_others_rename(tmp_path):
    # The workers of a multi-worker run both mark their shared backup folder; with one temporary
    # name for all writers, one's rename took the other's temporary ("No such file or directory").
    path = tmp_path / ".kvae-backup"
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, atomic.__file__, str(path), "400", letter],
                                stderr=subprocess.PIPE, text=True) for letter in "ab"]
    errors = [w.communicate(timeout=120)[1] for w in writers]
    assert [w.returncode for w in writers] == [0, 0], errors
    assert path.read_text() in ("a" * 1000, "b" * 1000)  # whole: one writer's text, not a mix
    assert sorted(p.name for p in tmp_path.iterdir()) == [".kvae-backup"]


def test_a_temporary_names_the_file_it_becomes(tmp_path):
    with atomic.replacing(tmp_path / "history.csv") as tmp:
        assert atomic.written_name(tmp.name) == "history.csv"
        tmp.write_text("epoch\n")
    assert atomic.written_name(".tmp-mine") is None and atomic.written_name("history.csv") is None
