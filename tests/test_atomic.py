"""kvae.atomic: a file is replaced whole or not at all."""

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
