import gzip

import numpy as np
import pytest

import kvae
from conftest import write_idx
from kvae.data import fashion_mnist


def test_digits_are_real_scaled_and_split_the_same_way_every_time(digits):
    assert digits.x_train.shape == (1437, 8, 8, 1) and digits.x_test.shape == (360, 8, 8, 1)
    assert digits.x_train.dtype == np.float32
    assert digits.x_train.min() == 0.0 and digits.x_train.max() == 1.0
    # 0–16 grey levels → multiples of 1/16.
    np.testing.assert_array_equal(digits.x_train * 16, np.round(digits.x_train * 16))
    again = kvae.data.load_digits()
    np.testing.assert_array_equal(again.x_test, digits.x_test)
    assert sorted(np.bincount(digits.y_test)) [0] >= 35  # stratified: every class present


def _fake_fashion(directory, n_train=6, n_test=3, compress=True):
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    suffix = ".gz" if compress else ""
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test),
    }
    for name, array in arrays.items():
        write_idx(directory / (name + suffix), array, compress)
    return arrays


@pytest.fixture
def no_default_dirs(tmp_path, monkeypatch):
    """Point HOME and the Debian folder at empty places, and make the download fail."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KVAE_DATA_DIR", raising=False)
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIR", tmp_path / "system")

    def offline():
        raise OSError("no network")

    import keras

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", offline)
    return tmp_path


@pytest.mark.parametrize("compress", [True, False])
def test_fashion_mnist_from_idx_files_in_data_dir(no_default_dirs, compress):
    arrays = _fake_fashion(no_default_dirs / "mine", compress=compress)
    data = kvae.data.load("fashion_mnist", data_dir=str(no_default_dirs / "mine"))
    assert data.x_train.shape == (6, 28, 28, 1) and data.x_test.shape == (3, 28, 28, 1)
    np.testing.assert_allclose(data.x_train[..., 0] * 255, arrays["train-images-idx3-ubyte"], atol=1e-3)
    np.testing.assert_array_equal(data.y_test, arrays["t10k-labels-idx1-ubyte"])


def test_fashion_mnist_search_order(no_default_dirs, monkeypatch):
    tmp = no_default_dirs
    _fake_fashion(tmp / "system", n_train=2)
    assert len(kvae.data.load_fashion_mnist().x_train) == 2  # the Debian folder
    _fake_fashion(tmp / "home" / ".keras" / "datasets" / "fashion-mnist", n_train=3)
    assert len(kvae.data.load_fashion_mnist().x_train) == 3  # Keras' cache before it
    _fake_fashion(tmp / "env" / "fashion-mnist", n_train=4)
    monkeypatch.setenv("KVAE_DATA_DIR", str(tmp / "env"))
    assert len(kvae.data.load_fashion_mnist().x_train) == 4  # $KVAE_DATA_DIR before that
    _fake_fashion(tmp / "arg", n_train=5)
    assert len(kvae.data.load_fashion_mnist(tmp / "arg").x_train) == 5  # --data-dir first


def test_fashion_mnist_missing_says_where_it_looked_and_how_to_install(no_default_dirs):
    with pytest.raises(FileNotFoundError) as info:
        kvae.data.load_fashion_mnist(no_default_dirs / "nowhere")
    message = str(info.value)
    assert "Fashion-MNIST not found" in message
    assert str(no_default_dirs / "nowhere") in message and str(no_default_dirs / "system") in message
    assert "fashion-mnist" in message and "keras.datasets.fashion_mnist.load_data() failed (OSError)" in message
    assert "apt-get install dataset-fashion-mnist" in message


def test_corrupt_idx_files_are_clear_errors(tmp_path):
    bad = tmp_path / "bad-idx3-ubyte"
    bad.write_bytes(b"\x00\x00\x08\x03\x00\x00\x00\x05\x00\x00\x00\x02\x00\x00\x00\x02" + b"\x00" * 7)
    with pytest.raises(ValueError, match=r"is corrupt: header says shape \(5, 2, 2\) \(36 bytes\), file has 23 bytes"):
        kvae.data.read_idx(bad)
    wrong_magic = tmp_path / "magic"
    write_idx(wrong_magic, np.zeros((2, 2)), compress=False, magic=0x0D02)
    with pytest.raises(ValueError, match=r"has magic number 0x00000d02; expected 0x00000801"):
        kvae.data.read_idx(wrong_magic)
    truncated_gz = tmp_path / "t.gz"
    truncated_gz.write_bytes(gzip.compress(b"\x00" * 100)[:20])
    with pytest.raises(ValueError, match=r"could not be read"):
        kvae.data.read_idx(truncated_gz)


def test_npy_file_of_uint8_images_is_scaled_and_split(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (50, 5, 6), dtype=np.uint8)
    np.save(tmp_path / "faces.npy", images)
    data = kvae.data.load(str(tmp_path / "faces.npy"))
    assert data.name == "faces" and data.event_shape == (5, 6, 1)
    assert len(data.x_train) == 45 and len(data.x_test) == 5
    assert data.x_train.max() <= 1.0
    joined = np.sort(np.concatenate([data.x_train, data.x_test]).ravel())
    np.testing.assert_allclose(joined, np.sort(images.ravel() / 255.0), atol=1e-6)


def test_npz_with_train_and_test_and_labels(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.uniform(size=(8, 3)), x_test=rng.uniform(size=(2, 3)),
             y_train=np.arange(8), y_test=np.arange(2))
    data = kvae.data.load(str(tmp_path / "d.npz"))
    assert data.x_train.shape == (8, 3) and data.x_test.shape == (2, 3)
    np.testing.assert_array_equal(data.y_train, np.arange(8))


def test_split_off_test_is_scikit_learns_seeded_split():
    from sklearn.model_selection import train_test_split

    from kvae.data.splits import split_off_test

    x, y = np.arange(40.0).reshape(20, 2), np.arange(20)
    x_train, x_test, y_train, y_test = split_off_test(x, y, fraction=0.25, seed=3)
    expected = train_test_split(x, y, test_size=5, random_state=3)
    for got, want in zip((x_train, x_test, y_train, y_test), expected):
        np.testing.assert_array_equal(got, want)
    assert split_off_test(x[:2], fraction=0.1)[1].shape == (1, 2)  # at least one test example
    assert split_off_test(x[:3], fraction=0.9)[0].shape == (1, 2)  # and one to train on


def test_npz_with_a_single_array_or_x(tmp_path):
    np.savez(tmp_path / "one.npz", anything=np.zeros((10, 4)))
    np.savez(tmp_path / "x.npz", x=np.zeros((10, 4)), y=np.arange(10))
    assert kvae.data.load(str(tmp_path / "one.npz")).x_train.shape == (9, 4)
    data = kvae.data.load(str(tmp_path / "x.npz"))
    assert sorted(np.concatenate([data.y_train, data.y_test])) == list(range(10))


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"a": np.zeros((3, 2)), "b": np.zeros((3, 2))}, r"must hold `x_train` \(and `x_test`\), `x`, or a single array; received arrays \['a', 'b'\]"),
        ({"x": np.zeros(5)}, r"`x` must have shape \(n, features\), \(n, h, w\) or \(n, h, w, c\), received shape \(5,\)"),
        ({"x": np.array([[np.nan, 1.0]])}, r"`x` must hold finite values, received NaN or Inf"),
        ({"x": np.array([["a", "b"]])}, r"`x` must hold numbers \(uint8, int or float\), received dtype <U1"),
        ({"x": np.zeros((0, 4))}, r"`x` must hold at least one example, received shape \(0, 4\)"),
        ({"x": np.zeros((1, 4))}, r"`x` must hold at least 2 examples to split off a test set, received shape \(1, 4\)"),
        ({"x_train": np.zeros((1, 4))}, r"`x_train` must hold at least 2 examples to split off a test set"),
        ({"x_train": np.zeros((4, 3)), "x_test": np.zeros((2, 5))}, r"`x_test` must have examples of shape \(3,\) like `x_train`, received \(5,\)"),
    ],
)
def test_bad_npz_contents_are_clear_errors(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=message):
        kvae.data.load(str(tmp_path / "bad.npz"))


def test_missing_or_unreadable_files_and_unknown_names(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"`data` file not found: .*missing.npy"):
        kvae.data.load(str(tmp_path / "missing.npy"))
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(ValueError, match=r"`data` file .*junk.npy is not a readable NumPy file"):
        kvae.data.load(str(tmp_path / "junk.npy"))
    with pytest.raises(ValueError, match=r"`data` must be one of \['digits', 'fashion_mnist'\] or a path to a .npy/.npz file, received: 'mnist'"):
        kvae.data.load("mnist")


def test_pickled_object_arrays_are_refused(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"not a readable NumPy file.*allow_pickle"):
        kvae.data.load(str(tmp_path / "obj.npy"))


def test_make_dataset_batches_shuffles_each_epoch_and_is_seeded():
    x = np.arange(20, dtype="float32").reshape(20, 1)
    ds = kvae.data.make_dataset(x, batch_size=8, shuffle=True, seed=3)
    first, second = [np.concatenate(list(ds.as_numpy_iterator())).ravel() for _ in range(2)]
    assert sorted(first) == list(range(20)) and not np.array_equal(first, second)
    again = kvae.data.make_dataset(x, batch_size=8, shuffle=True, seed=3)
    np.testing.assert_array_equal(np.concatenate(list(again.as_numpy_iterator())).ravel(), first)
    assert [len(b) for b in ds] == [8, 8, 4]


def test_dynamic_binarisation_draws_fresh_bernoulli_values_each_epoch():
    x = np.full((2000, 4), 0.3, "float32")
    ds = kvae.data.make_dataset(x, batch_size=500, binarize=True, seed=0)
    epoch1, epoch2 = (np.concatenate(list(ds.as_numpy_iterator())) for _ in range(2))
    assert set(np.unique(epoch1)) == {0.0, 1.0}
    assert abs(epoch1.mean() - 0.3) < 0.02
    assert not np.array_equal(epoch1, epoch2)
    replay = kvae.data.make_dataset(x, batch_size=500, binarize=True, seed=0)
    np.testing.assert_array_equal(np.concatenate(list(replay.as_numpy_iterator())), epoch1)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_make_dataset_rejects_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match=r"`batch_size` must be a positive integer, received: "):
        kvae.data.make_dataset(np.zeros((4, 2), "float32"), batch_size)


def test_values_too_large_for_float32_are_refused(tmp_path):
    np.save(tmp_path / "huge.npy", np.full((3, 2), 1e300))
    with pytest.raises(ValueError, match=r"`data` must hold values that fit in float32, received larger ones"):
        kvae.data.load(str(tmp_path / "huge.npy"))
