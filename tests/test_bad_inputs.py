"""Bad input on the command line: exit code 2, one line naming the problem, nothing written."""

import numpy as np
import pytest

from kvae.cli import main


def _files(tmp_path):
    np.save(tmp_path / "wide.npy", np.random.default_rng(0).normal(size=(20, 6)).astype("float32"))
    np.save(tmp_path / "small.npy", np.random.default_rng(0).uniform(size=(20, 6)).astype("float32"))
    np.save(tmp_path / "nan.npy", np.array([[np.nan, 0.5]] * 4, "float32"))
    np.save(tmp_path / "strings.npy", np.array([["a", "b"]] * 4))
    np.save(tmp_path / "rank1.npy", np.zeros(5, "float32"))
    np.save(tmp_path / "empty.npy", np.zeros((0, 3), "float32"))
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "run_without_model").mkdir()


CASES = [
    (["train", "--data", "{tmp}/wide.npy"], "--likelihood bernoulli needs --data with values in [0, 1], received values in"),
    (["train", "--data", "{tmp}/small.npy", "--batch-size", "64"], "--batch-size must be at most the number of training examples (18), received: 64"),
    (["train", "--data", "{tmp}/nan.npy"], "`data` must hold finite values, received NaN or Inf"),
    (["train", "--data", "{tmp}/strings.npy"], "`data` must hold numbers (uint8, int or float), received dtype <U1"),
    (["train", "--data", "{tmp}/rank1.npy"], "`data` must have shape (n, features), (n, h, w) or (n, h, w, c), received shape (5,)"),
    (["train", "--data", "{tmp}/empty.npy"], "`data` must hold at least one example, received shape (0, 3)"),
    (["train", "--data", "{tmp}/corrupt.npz"], "is not a readable NumPy file"),
    (["train", "--data", "{tmp}/missing.npy"], "`data` file not found"),
    (["train", "--data", "{tmp}/data.csv"], "`data` must be one of ['digits', 'fashion_mnist'] or a path to a .npy/.npz file"),
    (["train", "--data", "{tmp}/small.npy", "--architecture", "conv", "--batch-size", "8"], "`input_shape` must be (height, width, channels) for the conv architecture, received: (6,)"),
    (["train", "--strategy", "multi_worker"], "'multi_worker' needs $TF_CONFIG"),
    (["evaluate", "{tmp}/run_without_model"], "has no model.keras: expected a folder written by `kvae train`"),
    (["evaluate", "{tmp}/run_without_model", "--iw-samples", "0"], "--iw-samples must be an integer >= 1, received: 0"),
    (["sample", "{tmp}/run_without_model", "--out", "grid.jpg"], "--out must be a .png file, received: 'grid.jpg'"),
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
    assert err.startswith(f"kvae {argv[0]}: error: ") and message in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written
