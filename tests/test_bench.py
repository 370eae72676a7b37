"""The benchmarks run end to end on a tiny budget, so they never rot."""

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.e2e
def test_distributed_bench_smoke(tmp_path):
    out = tmp_path / "d.json"
    summary = _load("distributed").main(["--steps", "3", "--repeats", "1", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(summary))
    assert {s: v["replicas"] for s, v in saved["settings"].items()} == {"default": 1, "mirrored": 2, "2 workers": 2}
    assert all(v["steps_per_s_median"] > 0 for v in saved["settings"].values())
    assert saved["settings"]["default"]["ratio_to_default"] == 1.0
