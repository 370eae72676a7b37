import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.e2e
def test_digits_quickstart_runs_and_writes_its_outputs(tmp_path):
    neg_elbo, nll = _load("digits_quickstart").main(["--epochs", "3", "--out", str(tmp_path)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.keras", "history.csv", "samples.png"]
    assert 15 < neg_elbo < 45 and nll <= neg_elbo + 0.5
