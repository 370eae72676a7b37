"""Bad input on the command line: exit code 2, one line naming the problem, nothing written."""

import numpy as np
import pytest

from kvae_cli import main


def _files(tmp_path):
    np.save(tmp_path / "wide.npy", np.random.default_rng(0).normal(size=(20, 6)).astype("float32"))
    np.save(tmp_path / "small.npy", np.random.default_rng(0).uniform(size=(20, 6)).astype("float32"))
    np.save(tmp_path / "nan.npy", np.array([[np.nan, 0.5]] * 4, "float32"))
    np.save(tmp_path / "strings.npy", np.array([["a", "b"]] * 4))
    np.save(tmp_path / "rank1.npy", np.zeros(5, "float32"))
    np.save(tmp_path / "empty.npy", np.zeros((0, 3), "float32"))
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "run_without_model").mkdir()
    x = np.random.default_rng(0).uniform(size=(20, 6)).astype("float32")
    for name, y in (("negative", [-1] + [0] * 19), ("fractional", [0.5] * 20), ("huge", [10**7] + [0] * 19),
                    ("named", ["cat"] * 20)):
        np.savez(tmp_path / f"labels_{name}.npz", x=x, y=np.array(y))
    idx = tmp_path / "idx"
    idx.mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (idx / name).write_bytes(b"\x00\x00\x08\x03\x00\x00\x00\x05")  # header promises data that is not there


CASES = [
    (["train", "--data", "{tmp}/wide.npy"], "`--data` must be in [0, 1] for the Bernoulli likelihood, received values in"),
    (["train", "--data", "{tmp}/small.npy", "--batch-size", "64"], "--batch-size must be at most the number of training examples (18), received: 64"),
    (["train", "--data", "{tmp}/nan.npy"], "`data` must hold finite values, received NaN or Inf"),
    (["train", "--data", "{tmp}/strings.npy"], "`data` must hold numbers (uint8, int or float), received dtype <U1"),
    (["train", "--data", "{tmp}/rank1.npy"], "`data` must have shape (n, features), (n, h, w) or (n, h, w, c), received shape (5,)"),
    (["train", "--data", "{tmp}/empty.npy"], "`data` must hold at least one example, received shape (0, 3)"),
    (["train", "--data", "{tmp}/corrupt.npz"], "is not a readable NumPy file"),
    (["train", "--data", "{tmp}/missing.npy"], "`data` file not found"),
    (["train", "--data", "{tmp}/data.txt"], "`data` must be one of ['digits', 'fashion_mnist'], a .npy/.npz file, "
                                            "a folder of images, TFRecord files"),
    (["train", "--data", "{tmp}/small.npy", "--architecture", "conv", "--batch-size", "8"], "`input_shape` must be (height, width, channels) for the conv architecture, received: (6,)"),
    (["train", "--data", "fashion_mnist", "--data-dir", "{tmp}/idx"], "train-images-idx3-ubyte is truncated: 8 bytes, its header needs 16"),
    (["train", "--strategy", "multi_worker"], "'multi_worker' needs $TF_CONFIG"),
    (["train", "--data", "{tmp}/labels_negative.npz", "--conditional"],
     "`y` of `data` file '{tmp}/labels_negative.npz' must hold class ids, integers in [0, 10000); received -1 (example 1)"),
    (["train", "--data", "{tmp}/labels_fractional.npz", "--conditional"],
     "must hold class ids, integers in [0, 10000); received 0.5 (example 1)"),
    (["train", "--data", "{tmp}/labels_huge.npz", "--conditional"],
     "must hold class ids, integers in [0, 10000); received 10000000 (example 1)"),
    (["train", "--data", "{tmp}/labels_named.npz"],
     "must hold class ids, integers in [0, 10000); received values of type <U3 (e.g. 'cat'): map class names to ids"),
    (["evaluate", "{tmp}/run_without_model"], "has no model.keras: expected a folder written by `kvae train`"),
    (["export", "{tmp}/run_without_model", "--to", "{tmp}/saved"], "has no model.keras"),
]


@pytest.mark.parametrize("argv, message", CASES, ids=[" ".join(c[0][:3]) + f" #{i}" for i, c in enumerate(CASES)])
def test_cli_bad_input(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    _files(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    out = ["--out", str(tmp_path / "run")] if argv[0] == "train" else []
    code = main([a.format(tmp=tmp_path) for a in argv] + out + (["--epochs", "1", "--verbose", "0"] if argv[0] == "train" else []))
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"kvae {argv[0]}: error: ") and message.format(tmp=tmp_path) in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written


# --- The Python API -----------------------------------------------------------

import kvae  # noqa: E402
from conftest import tiny_vae  # noqa: E402

API_CASES = [
    ("fit", np.full((4, 4, 4, 1), 1.5, "float32"), r"`x` must be in \[0, 1\] for the Bernoulli likelihood, received values in \[1.5, 1.5\]"),
    ("fit", np.full((4, 4, 4, 1), np.nan, "float32"), r"`x` must hold finite values, received NaN or Inf"),
    ("fit", np.zeros((0, 4, 4, 1), "float32"), r"`x` must hold at least one example, received shape \(0, 4, 4, 1\)"),
    ("fit", np.array([["a"] * 16] * 2), r"`x` must hold numbers \(uint8, int or float\), received dtype <U1"),
    ("fit", np.zeros((4, 16), "float32"), r"`x` must have shape \(batch,\) \+ \(4, 4, 1\), received shape \(4, 16\)"),
    ("evaluate", np.full((4, 4, 4, 1), -0.5, "float32"), r"`x` must be in \[0, 1\] for the Bernoulli likelihood"),
    ("evaluate", np.zeros(4, "float32"), r"`x` must have shape \(n, ...\) with n examples, received shape \(4,\)"),
    ("make_dataset", np.array([object(), object()]), r"`x` must hold numbers \(uint8, int or float\), received dtype object"),
    ("make_dataset", np.zeros((0, 3), "float32"), r"`x` must hold at least one example"),
    ("make_dataset", np.array([[np.inf, 0.0]], "float32"), r"`x` must hold finite values, received NaN or Inf"),
    ("make_dataset_binarize", np.full((2, 3), 2.0, "float32"), r"`x` must be in \[0, 1\] to binarize, received values in \[2, 2\]"),
]


@pytest.mark.parametrize("method, x, message", API_CASES, ids=[f"{c[0]} #{i}" for i, c in enumerate(API_CASES)])
def test_api_bad_input(method, x, message):
    model = tiny_vae()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=message):
        if method == "fit":
            model.fit(x, batch_size=2, epochs=1, verbose=0)
        elif method == "evaluate":
            model.evaluate(x, verbose=0)
        elif method == "make_dataset":
            kvae.data.make_dataset(x, batch_size=2)
        else:
            kvae.data.make_dataset(x, batch_size=2, binarize=True)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)  # nothing changed
    assert int(model.optimizer.iterations.numpy()) == 0


def test_gaussian_likelihoods_accept_any_finite_values():
    model = tiny_vae(likelihood="gaussian")
    history = model.fit(np.full((4, 4, 4, 1), -3.0, "float32"), batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
