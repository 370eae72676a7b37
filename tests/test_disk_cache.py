"""kvae.data.DiskCache: a folder decoded once to disk gives the folder's own batches, rebuilt when files change."""

import json
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import kvae
from distributed import kill, start, wait_for
from kvae_cli import main


def _write_pngs(root, count=30, classes=("a", "b", "c"), size=6):
    rng = np.random.default_rng(0)
    for i in range(count):
        folder = root / classes[i % len(classes)]
        folder.mkdir(parents=True, exist_ok=True)
        image = rng.integers(0, 256, size=(size, size, 1), dtype=np.uint8)
        (folder / f"{i:03d}.png").write_bytes(tf.io.encode_png(image).numpy())
    return root


@pytest.fixture
def folder(tmp_path):
    return _write_pngs(tmp_path / "images")


def _batches(ds, count):
    out = []
    for batch in ds.take(count):
        out.append([t.numpy() for t in (batch if isinstance(batch, tuple) else (batch,))])
    return out


def _assert_same_batches(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert len(x) == len(y)
        for u, v in zip(x, y):
            np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("options", [
    {}, {"with_labels": True}, {"shard": (2, 1), "steps": 5}, {"binarize": True, "with_labels": True},
    {"start_epoch": 3, "seed": 7},
], ids=["plain", "labels", "shard-and-steps", "binarized", "later-epoch"])
def test_cached_batches_are_the_folders_own_batch_for_batch(folder, tmp_path, options):
    images = kvae.data.ImageFolder(folder, image_size="4x4")
    cache = kvae.data.DiskCache(images, tmp_path / "cache")
    # Three epochs of 27 training images in batches of 4 (7 per epoch; 5 with `steps`).
    steps = options.get("steps") or 7
    _assert_same_batches(_batches(cache.train_dataset(4, **options), 3 * steps),
                         _batches(images.train_dataset(4, **options), 3 * steps))
    for labels in (False, True):
        _assert_same_batches(_batches(cache.test_dataset(2, with_labels=labels), 10),
                             _batches(images.test_dataset(2, with_labels=labels), 10))
    assert (cache.num_train, cache.num_test, cache.event_shape, cache.class_names, cache.num_files) == (
        images.num_train, images.num_test, images.event_shape, images.class_names, images.num_files)


def test_an_entry_is_reused_until_a_file_changes_then_rebuilt_and_the_old_one_deleted(folder, tmp_path):
    root = tmp_path / "cache"
    first = kvae.data.DiskCache(kvae.data.ImageFolder(folder, image_size="4x4"), root)
    again = kvae.data.DiskCache(kvae.data.ImageFolder(folder, image_size="4x4"), root)
    assert first.built and not again.built and again.path == first.path
    other_size = kvae.data.DiskCache(kvae.data.ImageFolder(folder, image_size="3x3"), root)
    assert other_size.built and other_size.path != first.path  # other options: another entry, both kept
    # One image rewritten with other pixels: a new entry, with the new pixels; the stale one is gone.
    changed = sorted(folder.glob("*/*.png"))[4]
    changed.write_bytes(tf.io.encode_png(np.full((6, 6, 1), 255, np.uint8)).numpy())
    images = kvae.data.ImageFolder(folder, image_size="4x4")
    rebuilt = kvae.data.DiskCache(images, root)
    assert rebuilt.built and rebuilt.path != first.path
    assert sorted(p.name for p in root.iterdir()) == sorted([".kvae-cache", rebuilt.path.name, other_size.path.name])
    _assert_same_batches(_batches(rebuilt.train_dataset(4), 7), _batches(images.train_dataset(4), 7))


def test_a_build_that_fails_midway_leaves_no_entry_and_the_next_open_builds_it(folder, tmp_path, monkeypatch):
    images = kvae.data.ImageFolder(folder, image_size="4x4")
    real = images.ordered_dataset

    def failing(split, batch_size):
        for i, batch in enumerate(real(split, 4)):
            if i == 2:
                raise OSError("disk full")
            yield batch

    monkeypatch.setattr(images, "ordered_dataset", failing)
    with pytest.raises(OSError, match="disk full"):
        kvae.data.DiskCache(images, tmp_path / "cache")
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [".kvae-cache"]
    monkeypatch.setattr(images, "ordered_dataset", real)
    assert kvae.data.DiskCache(images, tmp_path / "cache").built


_SLOW_BUILD = """
import sys, time
import kvae
images = kvae.data.ImageFolder(sys.argv[1], image_size="4x4")
real = images.ordered_dataset
def slow(split, batch_size):
    for batch in real(split, 2):
        time.sleep(0.5)  # a build of about 8 s: the kill lands inside it
        yield batch
images.ordered_dataset = slow
kvae.data.DiskCache(images, sys.argv[2])
print("built")
"""


@pytest.mark.e2e
def test_a_build_killed_with_sigkill_leaves_nothing_readable_and_the_next_open_clears_it(folder, tmp_path):
    script, root = tmp_path / "build.py", tmp_path / "cache"
    script.write_text(_SLOW_BUILD)
    process = start([sys.executable, str(script), str(folder), str(root)], tmp_path / "build.log")
    wait_for(lambda: root.is_dir() and any(p.name.startswith(".tmp-") and (p / "train.f32").is_file()
                                           for p in root.iterdir()),
             [process], timeout=120, what="a build in progress")
    kill(process)
    left = sorted(p.name for p in root.iterdir())
    assert len(left) == 2 and left[0] == ".kvae-cache" and left[1].startswith(".tmp-")  # no entry, only the temporary
    images = kvae.data.ImageFolder(folder, image_size="4x4")
    cache = kvae.data.DiskCache(images, root)
    assert cache.built and sorted(p.name for p in root.iterdir()) == [".kvae-cache", cache.path.name]
    _assert_same_batches(_batches(cache.train_dataset(4), 7), _batches(images.train_dataset(4), 7))


def test_a_cache_folder_holding_the_users_files_is_refused_and_left_as_it_was(folder, tmp_path):
    root = tmp_path / "mine"
    root.mkdir()
    (root / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=r"`--disk-cache` .*mine.* holds files kvae did not write \('notes.txt'\)"):
        kvae.data.DiskCache(kvae.data.ImageFolder(folder, image_size="4x4"), root, argument="--disk-cache")
    assert [p.name for p in root.iterdir()] == ["notes.txt"] and (root / "notes.txt").read_text() == "mine"


def test_a_source_that_cannot_tell_when_it_changed_is_refused_naming_the_alternative(tmp_path):
    with pytest.raises(ValueError, match=r"ArraySource cannot \(image folders can\).*--cache"):
        kvae.data.DiskCache(kvae.data.ArraySource(kvae.data.load_digits()), tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_the_cache_checks_its_own_files(folder, tmp_path):
    cache = kvae.data.DiskCache(kvae.data.ImageFolder(folder, image_size="4x4"), tmp_path / "cache")
    cache.validate()
    with open(cache.path / "train.f32", "r+b") as f:
        f.truncate(100)
    with pytest.raises(ValueError, match=r"train.f32.* holds 100 bytes, expected 1728: delete the folder"):
        cache.validate()


TRAIN = ["--epochs", "2", "--batch-size", "8", "--hidden", "8", "--latent-dim", "2", "--seed", "1", "--verbose", "0",
         "--image-size", "4x4"]


@pytest.mark.e2e
def test_kvae_train_from_the_disk_cache_ends_on_the_streamed_runs_weights(folder, tmp_path, capsys):
    runs = {}
    for name, extra in (("streamed", []), ("cached", ["--disk-cache", str(tmp_path / "cache")])):
        out = tmp_path / name
        assert main(["train", "--data", str(folder), "--out", str(out), *TRAIN, *extra]) == 0
        runs[name] = keras.saving.load_model(out / "model.keras").get_weights()
        assert json.loads((out / "metrics.json").read_text())["epochs"] == 2
    for a, b in zip(runs["streamed"], runs["cached"]):
        np.testing.assert_array_equal(a, b)
    capsys.readouterr()
    code = main(["train", "--data", str(folder), "--out", str(tmp_path / "both"), "--cache", "--disk-cache",
                 str(tmp_path / "cache"), *TRAIN])
    assert code == 2 and "--cache (in memory) and --disk-cache DIR (on disk)" in capsys.readouterr().err
    assert not (tmp_path / "both").exists()
    assert main(["train", "--data", str(folder), "--out", str(tmp_path / "again"), *TRAIN, "--disk-cache",
                 str(tmp_path / "cache")]) == 0
    assert len([p for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")]) == 1  # reused
