"""Users' own data: image folders, TFRecord shards and tables, from the library and the CLI."""

import json
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import kvae
from distributed import SCRIPTS, free_ports, run, run_all, start, tf_config
from kvae.export import WARMUP_FILE
from kvae_cli import main

DIGITS = kvae.data.load_digits()
X = np.concatenate([DIGITS.x_train, DIGITS.x_test])[:400]
Y = np.concatenate([DIGITS.y_train, DIGITS.y_test])[:400]
PIXELS = np.round(X * 255).astype(np.uint8)  # what a PNG of the digits holds
TRAIN = ["--epochs", "2", "--batch-size", "32", "--hidden", "16", "--latent-dim", "2", "--verbose", "0"]


def _png(pixels):
    return tf.io.encode_png(pixels).numpy()


def _tree(root):
    """Every file and folder under `root` with its size: what a refused command must leave unchanged."""
    return sorted((str(p.relative_to(root)), p.stat().st_size if p.is_file() else None) for p in root.rglob("*"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("images") / "digits"
    for i, (pixels, label) in enumerate(zip(PIXELS, Y)):
        (root / str(label)).mkdir(parents=True, exist_ok=True)
        (root / str(label) / f"{i:04d}.png").write_bytes(_png(pixels))
    return root


def _example(pixels, label):
    feature = {
        "image_raw": tf.train.Feature(bytes_list=tf.train.BytesList(value=[pixels.tobytes()])),
        "png": tf.train.Feature(bytes_list=tf.train.BytesList(value=[_png(pixels)])),
        "floats": tf.train.Feature(float_list=tf.train.FloatList(value=(pixels / 255.0).reshape(-1).tolist())),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("tfrecords")
    for shard in range(4):
        with tf.io.TFRecordWriter(str(root / f"digits-{shard}.tfrecord")) as writer:
            for i in range(shard, len(PIXELS), 4):
                writer.write(_example(PIXELS[i], Y[i]))
    return root


TABLE_MEAN, TABLE_SCALE = np.array([0.0, 5.0, -50.0, 1e3]), np.array([1.0, 10.0, 100.0, 1e4])


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(600, 1))
    rows = (np.tanh(latent) + 0.1 * rng.normal(size=(600, 4))) * TABLE_SCALE + TABLE_MEAN
    path = tmp_path_factory.mktemp("tables") / "sensors.csv"
    lines = ["a,b,c,d,kind"] + [",".join(f"{v:.6g}" for v in row) + f",{i % 3}" for i, row in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _all(ds, labels=False):
    batches = list(ds)
    if labels:
        return np.concatenate([x.numpy() for x, _ in batches]), np.concatenate([y.numpy() for _, y in batches])
    return np.concatenate([b.numpy() for b in batches])


# -- sources ---------------------------------------------------------------------------------------


def test_image_folder_decodes_the_files_with_their_class_labels(folder):
    source = kvae.data.ImageFolder(folder, "8x8")
    assert (source.num_train, source.num_test) == (360, 40)
    assert source.class_names == [str(k) for k in range(10)] and source.event_shape == (8, 8, 1)
    x, y = _all(source.test_dataset(16, with_labels=True), labels=True)
    # Each test image is one of the digits written, with its own label.
    index = {PIXELS[i].tobytes(): i for i in range(len(PIXELS))}
    found = [index[np.round(image * 255).astype(np.uint8).tobytes()] for image in x]
    np.testing.assert_array_equal(y, Y[found])
    # The split is fixed by the seed, and another seed gives another one.
    again = kvae.data.ImageFolder(folder, "8x8")
    np.testing.assert_array_equal(x, _all(again.test_dataset(16)))
    other = kvae.data.ImageFolder(folder, "8x8", seed=1)
    assert not np.array_equal(x, _all(other.test_dataset(16)))


def test_image_folder_resizes_and_converts_like_the_serving_decoder(folder):
    source = kvae.data.ImageFolder(folder, "5x6", channels=3)
    batch = next(iter(source.test_dataset(4)))
    assert batch.shape == (4, 5, 6, 3) and 0 <= batch.numpy().min() and batch.numpy().max() <= 1
    # The ops of Keras' image_dataset_from_directory (decode_image, bilinear resize), / 255.
    path = source._test[0][0]
    expected = tf.image.resize(tf.image.decode_image(tf.io.read_file(path), channels=3, expand_animations=False),
                               (5, 6)) / 255.0
    np.testing.assert_allclose(batch[0], expected, atol=1e-6)


@pytest.mark.parametrize("kind", ["images", "tfrecords", "table"])
def test_training_streams_are_keyed_by_epoch(folder, shards, table, kind):
    source = {
        "images": lambda: kvae.data.ImageFolder(folder, "8x8"),
        "tfrecords": lambda: kvae.data.TFRecordSource(str(shards / "*.tfrecord"), "image_raw", image_size="8x8"),
        "table": lambda: kvae.data.TableSource(table),
    }[kind]()
    steps = kvae.data.steps_per_epoch(source.num_train, 50)
    from_start = [b.numpy() for b in source.train_dataset(50, seed=4).take(3 * steps)]
    from_epoch_2 = [b.numpy() for b in source.train_dataset(50, seed=4, start_epoch=2).take(steps)]
    for a, b in zip(from_start[2 * steps:], from_epoch_2):
        np.testing.assert_array_equal(a, b)  # epoch 2 is the same wherever the stream starts
    epochs = [np.concatenate(from_start[e * steps:(e + 1) * steps]) for e in range(3)]
    assert all(len(e) == source.num_train for e in epochs)
    assert not np.array_equal(epochs[0], epochs[1])  # a new order in each epoch
    # The same examples in every epoch (a permutation of the training split).
    np.testing.assert_allclose(np.sort(epochs[0].reshape(len(epochs[0]), -1), axis=0),
                               np.sort(epochs[1].reshape(len(epochs[1]), -1), axis=0))


@pytest.mark.parametrize("kind", ["images", "tfrecords", "table"])
def test_no_source_function_is_rewritten_by_autograph(folder, shards, table, kind, autograph_conversions):
    # kvae's data functions branch on Python values only: traced as written, a pipeline starts sooner.
    source = {
        "images": lambda: kvae.data.ImageFolder(folder, "8x8", test_fraction=0.2),
        "tfrecords": lambda: kvae.data.TFRecordSource(str(shards / "*.tfrecord"), "png", "encoded", image_size="8x8",
                                                      label_feature="label"),
        "table": lambda: kvae.data.TableSource(table, label_column="kind"),
    }[kind]()
    for with_labels in (False, True):
        next(iter(source.train_dataset(50, seed=4, with_labels=with_labels, binarize=kind != "table", steps=2)))
        next(iter(source.test_dataset(50, with_labels=with_labels)))
    assert [name for name in autograph_conversions if name.startswith("kvae")] == []


@pytest.mark.parametrize("feature, dtype", [("image_raw", "uint8"), ("png", "encoded"), ("floats", "float32")])
def test_tfrecord_shards_hold_the_examples_and_labels(shards, feature, dtype):
    source = kvae.data.TFRecordSource(str(shards / "digits-*.tfrecord"), feature, dtype, image_size="8x8",
                                      label_feature="label")
    assert source.num_train + source.num_test == len(PIXELS) and source.num_test > 0
    assert source.event_shape == (8, 8, 1) and source.class_names == [str(k) for k in range(10)]
    x, y = _all(source.test_dataset(64, with_labels=True), labels=True)
    index = {PIXELS[i].tobytes(): i for i in range(len(PIXELS))}
    found = [index[np.round(image * 255).astype(np.uint8).tobytes()] for image in x]
    np.testing.assert_array_equal(y, Y[found])


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["images", "tfrecords"])
def test_file_shards_split_the_training_files_between_workers(folder, shards, kind):
    source = (kvae.data.ImageFolder(folder, "8x8") if kind == "images" else
              kvae.data.TFRecordSource(str(shards / "*.tfrecord"), "image_raw", image_size="8x8"))
    everything = _all(source.train_dataset(1000).take(1))
    steps = 6
    parts = [_all(source.train_dataset(16, shard=(2, i), steps=steps).take(steps)) for i in range(2)]
    assert all(len(p) == steps * 16 for p in parts)  # every worker's epoch is `steps` full batches
    key = lambda a: {row.tobytes() for row in a.reshape(len(a), -1)}  # noqa: E731
    assert not key(parts[0]) & key(parts[1])  # disjoint files, so disjoint examples
    assert key(parts[0]) | key(parts[1]) <= key(everything)
    # Each worker's epoch is still keyed by (seed, epoch): a stream started at epoch 1 repeats it.
    again = _all(source.train_dataset(16, shard=(2, 1), steps=steps, start_epoch=1).take(steps))
    np.testing.assert_array_equal(again, _all(source.train_dataset(16, shard=(2, 1), steps=steps)
                                              .skip(steps).take(steps)))


@pytest.mark.e2e
def test_two_workers_train_on_their_own_tfrecord_shards(shards, tmp_path):
    ports = free_ports(2)
    command = [sys.executable, "-m", "kvae", "train", "--strategy", "multi_worker", "--data",
               str(shards / "*.tfrecord"), "--feature", "image_raw", "--image-size", "8x8", "--out",
               str(tmp_path / "run"), *TRAIN]
    workers = [start(command, tmp_path / f"w{i}.log", TF_CONFIG=tf_config(ports, i)) for i in range(2)]
    codes = run_all(workers, timeout=240)
    logs = [(tmp_path / f"w{i}.log").read_text() for i in range(2)]
    assert codes == [0, 0], "\n".join(log[-2000:] for log in logs)
    assert "worker 0 of 2 reads 2 of 4 files" in logs[0] and "worker 1 of 2 reads 2 of 4 files" in logs[1]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["replicas"] == 2 and np.isfinite(metrics["test_neg_elbo"])


def test_tfrecords_with_a_test_pattern_use_it(shards):
    source = kvae.data.TFRecordSource(str(shards / "digits-[012].tfrecord"), "image_raw", image_size="8x8",
                                      test_pattern=str(shards / "digits-3.tfrecord"))
    assert (source.num_train, source.num_test) == (300, 100)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_table_is_standardised_by_its_training_rows(table, tmp_path, suffix):
    rows = np.loadtxt(table, delimiter=",", skiprows=1)
    path = table
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = tmp_path / "sensors.parquet"
        pq.write_table(pa.table({name: rows[:, j] for j, name in enumerate("abcd")} | {"kind": rows[:, 4]}), path)
    source = kvae.data.TableSource(path, label_column="kind")
    assert source.columns == ["a", "b", "c", "d"] and source.class_names == ["0", "1", "2"]
    train = np.stack([v.numpy() for v, _ in source._split(source.path, train=True)])
    assert len(train) == source.num_train and source.num_train + source.num_test == 600
    np.testing.assert_allclose(source.transform.mean, train.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(source.transform.stddev, train.std(0), rtol=1e-4)
    # The pipeline gives the rows as they are; the model's preprocessing standardises them.
    streamed = _all(source.train_dataset(64).take(kvae.data.steps_per_epoch(source.num_train, 64)))
    np.testing.assert_allclose(streamed.mean(0), train.mean(0), rtol=1e-4, atol=1e-4)
    standard, log_det = source.preprocessing().forward(streamed)
    np.testing.assert_allclose(np.mean(standard, 0), 0, atol=1e-4)
    np.testing.assert_allclose(np.std(standard, 0), 1, atol=1e-4)
    np.testing.assert_allclose(log_det, -np.log(source.transform.stddev).sum(), rtol=1e-6)


def test_transforms_round_trip_their_config(tmp_path):
    for transform in (kvae.data.ImageDecoding((28, 20), 3), kvae.data.Standardization([1.0, 2.0], [3.0, 4.0])):
        kvae.data.save_transform(tmp_path, transform)
        loaded = kvae.data.load_transform(tmp_path)
        assert type(loaded) is type(transform) and loaded.get_config() == transform.get_config()
    kvae.data.save_transform(tmp_path, None)
    assert kvae.data.load_transform(tmp_path) is None


# -- the command line --------------------------------------------------------------------------------


def _serve(path, requests, tmp_path, session):
    np.savez(tmp_path / "in.npz", **requests)
    code, output = run([sys.executable, str(SCRIPTS / "run_saved_model.py"), str(path), str(tmp_path / "in.npz"),
                        str(tmp_path / "out.npz"), *(["--session"] if session else [])], tmp_path / "served.log",
                       timeout=300)
    assert code == 0, output[-3000:]
    return dict(np.load(tmp_path / "out.npz"))


@pytest.mark.e2e
def test_an_image_folder_run_is_served_on_png_bytes(folder, tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--data", str(folder), "--image-size", "8x8", "--out", str(out), *TRAIN]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["image_size"] == "8x8" and config["class_names"] == [str(k) for k in range(10)]
    assert main(["evaluate", str(out), "--iw-samples", "10"]) == 0
    assert main(["export", str(out), "--to", str(tmp_path / "served")]) == 0
    files = sorted(folder.rglob("*.png"))[:5]
    images = np.array([f.read_bytes() for f in files], dtype=object).astype("S")
    decoded = np.stack([kvae.data.ImageDecoding((8, 8), 1).load(str(f)).numpy() for f in files])
    requests = {"score_image/image_bytes": images, "score/x": decoded,
                "encode_image/image_bytes": images, "encode/x": decoded,
                "reconstruct_image/image_bytes": images, "reconstruct/x": decoded}
    # TF Serving's session loader, without kvae (tf.saved_model.load: tests/test_examples.py).
    served = _serve(tmp_path / "served" / "1", requests, tmp_path, session=True)
    for name in ("score/log_likelihood", "score/neg_elbo", "encode/mean", "reconstruct/reconstruction"):
        signature, key = name.split("/")
        np.testing.assert_allclose(served[f"{signature}_image/{key}"], served[name], rtol=1e-6, atol=1e-6)
    records = [r.numpy() for r in tf.data.TFRecordDataset(str(tmp_path / "served" / "1" / WARMUP_FILE))]
    assert any(b"score_image" in r for r in records)


@pytest.mark.e2e
def test_python_kvae_evaluate_and_the_served_score_agree_on_a_table_models_raw_rows(table, tmp_path):
    out = tmp_path / "run"
    args = ["train", "--data", str(table), "--columns", "a", "b", "c", "d", "--out", str(out), *TRAIN]
    assert main(args) == 0
    assert json.loads((out / "config.json").read_text())["likelihood"] == "gaussian"  # a table's default
    assert kvae.data.load_transform(out) is None  # the standardisation is the model's own
    model = keras.saving.load_model(out / "model.keras")  # what a Python user does
    assert isinstance(model.preprocessing, kvae.preprocessing.Standardize)
    rows = np.loadtxt(table, delimiter=",", skiprows=1, dtype=np.float32)
    source = kvae.data.TableSource(table, columns=["a", "b", "c", "d"])
    test_rows = _all(source.test_dataset(64))
    # `kvae evaluate` and Python's evaluate on the raw test rows: the same nats.
    assert main(["evaluate", str(out), "--iw-samples", "10"]) == 0
    cli = json.loads((out / "evaluation.json").read_text())
    python = kvae.evaluation.evaluate(model, test_rows, iw_samples=10)
    for key in ("test_neg_elbo", "test_nll", "test_kl"):
        assert cli[key] == pytest.approx(python[key], rel=1e-6), key
    # Nats of the raw rows: log p(u) − Σ log σ, nowhere near the 1e11 of a model fed raw rows it never saw.
    assert abs(python["test_nll"]) < 100
    # The served score (TF Serving's session loader, without kvae) is the model's on the same raw rows.
    assert main(["export", str(out), "--to", str(tmp_path / "served")]) == 0
    served = _serve(tmp_path / "served" / "1", {"score/x": rows[:6, :4], "reconstruct/x": rows[:6, :4],
                                                "generate/seed": np.arange(3, dtype=np.int64)}, tmp_path, True)
    expected = model.score(rows[:6, :4], num_samples=100)
    np.testing.assert_allclose(served["score/log_likelihood"], expected["log_likelihood"], rtol=1e-5)
    np.testing.assert_allclose(-np.mean(expected["log_likelihood"]), python["test_nll"], atol=5.0)  # MC error
    np.testing.assert_allclose(served["reconstruct/reconstruction"], model.reconstruct(rows[:6, :4]), rtol=1e-5,
                               atol=1e-3)
    assert np.abs(served["generate/sample"][:, 3]).max() > 100  # raw units of column d (scale 1e4)


@pytest.mark.e2e
def test_a_run_of_kvae_0_1_with_a_transform_file_still_loads_and_scores_raw_rows(table, tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--data", str(table), "--columns", "a", "b", "c", "d", "--out", str(out), *TRAIN]) == 0
    assert main(["evaluate", str(out), "--iw-samples", "10"]) == 0
    new = json.loads((out / "evaluation.json").read_text())
    # kvae 0.1 saved the model of standardised rows and the standardisation beside it.
    model = keras.saving.load_model(out / "model.keras")
    old = kvae.VAE.from_config({**model.get_config(), "preprocessing": None})
    old.set_weights(model.get_weights())
    old.seed_generator.state.assign(model.seed_generator.state)
    old.save(out / "model.keras")
    s = model.preprocessing
    kvae.data.save_transform(out, kvae.data.Standardization(s.mean, s.stddev))
    loaded, _ = kvae.RunFolder(out).load()
    assert loaded.preprocessing.get_config()["mean"] == s.mean
    assert main(["evaluate", str(out), "--iw-samples", "10"]) == 0
    legacy = json.loads((out / "evaluation.json").read_text())
    for key in ("test_neg_elbo", "test_nll", "test_kl"):
        assert legacy[key] == pytest.approx(new[key], rel=1e-6), key
    assert main(["export", str(out), "--to", str(tmp_path / "served")]) == 0
    rows = np.loadtxt(table, delimiter=",", skiprows=1, dtype=np.float32)[:4, :4]
    served = _serve(tmp_path / "served" / "1", {"score/x": rows}, tmp_path, True)
    np.testing.assert_allclose(served["score/log_likelihood"], model.score(rows, num_samples=100)["log_likelihood"],
                               rtol=1e-5)


@pytest.mark.e2e
def test_tfrecord_shards_train_a_conditional_vae_from_the_cli(shards, tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--data", str(shards / "digits-*.tfrecord"), "--feature", "png", "--feature-dtype",
                 "encoded", "--image-size", "8x8", "--label-feature", "label", "--conditional", "--out", str(out),
                 *TRAIN]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_classes"] == 10 and metrics["train_examples"] + metrics["test_examples"] == len(PIXELS)


@pytest.mark.e2e
def test_cache_trains_from_memory_on_the_same_examples(folder, tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--data", str(folder), "--image-size", "8x8", "--cache", "--out", str(out), *TRAIN]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["train_examples"], metrics["test_examples"]) == (360, 40)


# -- bad input: a clear error naming the file, and nothing written ---------------------------------


def _refused(tmp_path, capsys, *args):
    before = _tree(tmp_path)
    assert main(["train", *args, "--out", str(tmp_path / "run"), *TRAIN]) == 2
    assert _tree(tmp_path) == before  # no run folder, no backup, nothing half-written
    return capsys.readouterr().err


def _copy_folder(folder, target, count=40):
    for path in sorted(folder.rglob("*.png"))[:count]:
        (target / path.parent.name).mkdir(parents=True, exist_ok=True)
        (target / path.parent.name / path.name).write_bytes(path.read_bytes())
    return target


def test_an_empty_folder_is_refused(tmp_path, capsys):
    (tmp_path / "empty" / "cats").mkdir(parents=True)
    err = _refused(tmp_path, capsys, "--data", str(tmp_path / "empty"), "--image-size", "8x8")
    assert f"--data` folder '{tmp_path / 'empty'}' holds no images: expected .bmp, .gif, .jpeg, .jpg, .png" in err


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_a_damaged_image_is_refused_by_name(folder, tmp_path, capsys, damage):
    images = _copy_folder(folder, tmp_path / "images")
    victim = sorted(images.rglob("*.png"))[7]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"not an image at all")
    err = _refused(tmp_path, capsys, "--data", str(images), "--image-size", "8x8")
    assert f"image file '{victim}' is corrupt or truncated and cannot be decoded" in err


def test_mixed_channel_counts_are_refused_by_name_or_converted(folder, tmp_path, capsys):
    images = _copy_folder(folder, tmp_path / "images")
    rgb = images / "0" / "rgb.png"
    rgb.write_bytes(_png(np.repeat(PIXELS[0], 3, axis=-1)))
    err = _refused(tmp_path, capsys, "--data", str(images), "--image-size", "8x8")
    assert "images have mixed channel counts (" in err and f"'{rgb}' has 3" in err
    assert "pass channels=1 or 3 (--channels) to convert them all" in err
    assert kvae.data.ImageFolder(images, "8x8", channels=3).event_shape == (8, 8, 3)  # converted


def test_a_missing_tfrecord_feature_is_refused_by_name(shards, tmp_path, capsys):
    err = _refused(tmp_path, capsys, "--data", str(shards / "*.tfrecord"), "--feature", "pixels",
                   "--image-size", "8x8")
    assert f"file '{shards / 'digits-0.tfrecord'}' has no feature 'pixels'" in err
    assert "its records have ['floats', 'image_raw', 'label', 'png']" in err


def test_a_record_lacking_the_feature_in_a_later_shard_is_refused_by_name(shards, tmp_path, capsys):
    for path in sorted(shards.glob("*.tfrecord")):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    with tf.io.TFRecordWriter(str(tmp_path / "digits-9.tfrecord")) as writer:
        writer.write(tf.train.Example().SerializeToString())
    err = _refused(tmp_path, capsys, "--data", str(tmp_path / "digits-*.tfrecord"), "--feature", "image_raw",
                   "--image-size", "8x8")
    assert f"file '{tmp_path / 'digits-9.tfrecord'}': a record lacks feature 'image_raw'" in err


@pytest.mark.parametrize("cell, message", [
    ("warm", "column 'b' is not numeric: data row 3 holds 'warm'"),
    ("nan", "column 'b' has a NaN or infinite cell in data row 3"),
    ("", "column 'b' has an empty cell in data row 3"),
])
def test_bad_table_cells_are_refused_by_file_column_and_row(tmp_path, capsys, cell, message):
    path = tmp_path / "t.csv"
    rows = [f"{i},{i * 2}" for i in range(40)]
    rows[2] = f"2,{cell}"
    path.write_text("a,b\n" + "\n".join(rows) + "\n")
    err = _refused(tmp_path, capsys, "--data", str(path))
    assert f"file '{path}': {message}" in err


def test_options_that_do_not_fit_the_data_are_refused(folder, tmp_path, capsys):
    err = _refused(tmp_path, capsys, "--data", str(folder))
    assert "needs --image-size HxW, e.g. 28x28" in err
    err = _refused(tmp_path, capsys, "--data", str(folder), "--image-size", "8x8", "--feature", "x")
    assert "--feature do(es) not apply to `--data`" in err and "it takes --image-size, --channels" in err
    err = _refused(tmp_path, capsys, "--data", str(tmp_path / "nothing-*.tfrecord"), "--feature", "x")
    assert "no TFRecord files match" in err
    err = _refused(tmp_path, capsys, "--data", str(tmp_path / "missing_folder"))
    assert "(no such file or folder)" in err


def test_a_table_refuses_the_bernoulli_likelihood(table, tmp_path, capsys):
    err = _refused(tmp_path, capsys, "--data", str(table), "--likelihood", "bernoulli")
    assert "a table's standardised columns are continuous: use --likelihood gaussian or gaussian_fixed" in err



def _records(path, examples):
    with tf.io.TFRecordWriter(str(path)) as writer:
        for example in examples:
            writer.write(example)


def _with(pixels, y, **features):
    """One record like `_example`'s, with some features replaced."""
    example = tf.train.Example.FromString(_example(pixels, y))
    for key, feature in features.items():
        example.features.feature[key].CopyFrom(feature)
    return example.SerializeToString()


BAD_RECORDS = {
    "short raw pixels": (["--feature", "image_raw", "--image-size", "8x8"],
                         {"image_raw": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"\x00" * 63]))},
                         "record 6: feature 'image_raw' must hold 64 bytes (8x8x1), received another byte count"),
    "undecodable png": (["--feature", "png", "--feature-dtype", "encoded", "--image-size", "8x8"],
                        {"png": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"\x89PNG not really"]))},
                        "record 6: feature 'png' is not a decodable image"),
    "NaN float": (["--feature", "floats", "--feature-dtype", "float32", "--image-size", "8x8"],
                  {"floats": tf.train.Feature(float_list=tf.train.FloatList(value=[np.nan] * 64))},
                  "record 6: feature 'floats' must hold finite values, received a NaN or Inf"),
    "negative label": (["--feature", "image_raw", "--image-size", "8x8", "--label-feature", "label"],
                       {"label": tf.train.Feature(int64_list=tf.train.Int64List(value=[-1]))},
                       "record 6: label feature 'label' must be a class id in [0, 10000), received -1"),
    "huge label": (["--feature", "image_raw", "--image-size", "8x8", "--label-feature", "label"],
                   {"label": tf.train.Feature(int64_list=tf.train.Int64List(value=[10**7]))},
                   "record 6: label feature 'label' must be a class id in [0, 10000), received 10000000"),
}


@pytest.mark.parametrize("case", sorted(BAD_RECORDS))
def test_one_bad_record_is_refused_at_opening_by_file_and_record(tmp_path, capsys, case):
    options, replaced, message = BAD_RECORDS[case]
    path = tmp_path / "data" / "digits-0.tfrecord"
    path.parent.mkdir()
    examples = [_example(PIXELS[i], Y[i]) for i in range(40)]
    examples[5] = _with(PIXELS[5], Y[5], **replaced)
    _records(path, examples)
    err = _refused(tmp_path, capsys, "--data", str(path.parent / "*.tfrecord"), *options)
    assert f"`--data` file '{path}', {message}" in err, err


def test_a_file_changed_mid_run_is_named_and_the_run_can_resume(shards, tmp_path):
    for path in sorted(shards.glob("*.tfrecord")):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    source = kvae.data.TFRecordSource(str(tmp_path / "*.tfrecord"), "image_raw", image_size="8x8")
    victim = tmp_path / "digits-2.tfrecord"
    examples = [r.numpy() for r in tf.data.TFRecordDataset(str(victim))]
    examples[3] = _with(PIXELS[0], 0, image_raw=tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"\x00"])))
    _records(victim, examples)  # rewritten after it was opened and checked
    with pytest.raises(ValueError, match=rf"file '{victim}', record 4: feature 'image_raw' must hold 64 bytes .*"
                                         r"the file changed after it was checked: fix it and run the same command"):
        with kvae.data.stream_errors(source):
            for _ in source.train_dataset(32).take(source.num_train):
                pass


def test_table_labels_must_be_class_ids(tmp_path, capsys):
    path = tmp_path / "t.csv"
    rows = [f"{i},{i * 2},{i % 3}" for i in range(40)]
    rows[4] = "4,8,1.5"
    path.write_text("a,b,kind\n" + "\n".join(rows) + "\n")
    err = _refused(tmp_path, capsys, "--data", str(path), "--label-column", "kind", "--conditional")
    assert (f"file '{path}': label column 'kind' must hold class ids, integers in [0, 10000); data row 5 holds 1.5"
            in err)


def test_duplicate_csv_columns_are_refused(tmp_path, capsys):
    path = tmp_path / "t.csv"
    path.write_text("a,b,a\n" + "\n".join(f"{i},{i},{i}" for i in range(40)) + "\n")
    err = _refused(tmp_path, capsys, "--data", str(path))
    assert f"file '{path}': the header names column(s) ['a'] more than once" in err


def test_a_dangling_link_in_an_image_folder_is_refused_by_name(folder, tmp_path, capsys):
    images = _copy_folder(folder, tmp_path / "images")
    link = images / "0" / "gone.png"
    link.symlink_to(tmp_path / "nowhere.png")
    err = _refused(tmp_path, capsys, "--data", str(images), "--image-size", "8x8")
    assert f"image file '{link}' cannot be read: it is a link to nothing" in err


def _gif(pixels):
    from PIL import Image

    import io

    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0]).convert("P").save(buffer, format="GIF")
    return buffer.getvalue()


@pytest.mark.slow
def test_gif_images_train_and_serve_as_grey(folder, tmp_path):
    images = tmp_path / "gifs"
    for i, (pixels, label) in enumerate(zip(PIXELS[:40], Y[:40])):
        (images / str(label % 2)).mkdir(parents=True, exist_ok=True)
        (images / str(label % 2) / f"{i}.gif").write_bytes(_gif(pixels))
    source = kvae.data.ImageFolder(images, "8x8", channels=1)
    x, _ = source.test_arrays()
    assert x.shape[1:] == (8, 8, 1)
    decoding = kvae.data.ImageDecoding((8, 8), 1)
    gif = decoding.decode(tf.constant(_gif(PIXELS[0]))).numpy()
    np.testing.assert_allclose(gif, PIXELS[0] / 255.0, atol=2 / 255)  # grey in, grey out
    vae = kvae.build_vae((8, 8, 1), latent_dim=2, hidden_units=(8,))
    kvae.export.export_saved_model(vae, tmp_path / "served", transform=decoding)
    served = tf.saved_model.load(str(tmp_path / "served" / "1")).signatures["encode_image"]
    mean = served(image_bytes=tf.constant([_gif(PIXELS[0]), _png(PIXELS[0])]))["mean"].numpy()
    np.testing.assert_allclose(mean[0], mean[1], atol=1e-2)
