"""The benchmarks run end to end on a tiny budget, so they never rot."""

import json

import pytest

from conftest import load_script


@pytest.mark.e2e
def test_distributed_bench_smoke(tmp_path):
    out = tmp_path / "d.json"
    summary = load_script("bench/distributed.py").main(["--steps", "3", "--repeats", "1", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(summary))
    assert {s: v["replicas"] for s, v in saved["settings"].items()} == {"default": 1, "mirrored": 2, "2 workers": 2}
    assert all(v["steps_per_s_median"] > 0 for v in saved["settings"].values())
    assert saved["settings"]["default"]["ratio_to_default"] == 1.0
