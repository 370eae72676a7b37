"""Served requests are bounded: one can fail, none can take the server down (TF Serving's loader)."""

import json
import sys

import numpy as np
import pytest
import tensorflow as tf

import kvae
from conftest import tiny_vae, uniform_data
from distributed import SCRIPTS, run

# Its module-scoped fixtures train or export: one worker runs them once (`--dist loadgroup`).
pytestmark = pytest.mark.xdist_group("test_export_bounds")

SHAPE = (4, 4, 1)


def _serve(path, requests, tmp_path):
    """Runs `requests` (a list of `(signature, inputs)`) in order in one TF Serving-like process."""
    arrays = {f"{n}/{signature}/{k}": v for n, (signature, inputs) in enumerate(requests) for k, v in inputs.items()}
    np.savez(tmp_path / "requests.npz", **arrays)
    code, output = run([sys.executable, str(SCRIPTS / "serve_requests.py"), str(path), str(tmp_path / "requests.npz"),
                        str(tmp_path / "results.json")], tmp_path / "serve_requests.log", timeout=300)
    assert code == 0, f"the serving process died ({code}): {output[-2000:]}"
    return json.loads((tmp_path / "results.json").read_text())


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A Bernoulli model with the default bounds, and the same model with small ones."""
    model = tiny_vae(SHAPE, latent_dim=3)
    model.fit(uniform_data(32, SHAPE), batch_size=8, epochs=1, verbose=0)
    base = tmp_path_factory.mktemp("bounds")
    default = kvae.export.export_saved_model(model, base / "default", score_samples=16)
    small = kvae.export.export_saved_model(model, base / "small", score_samples=4, max_batch=8,
                                           max_score_samples=64, max_score_rows=100)
    return model, default, small


def _x(n=1, value=0.5):
    return np.full((n, *SHAPE), value, np.float32)


def _k(n, k):
    return np.full((n,), k, np.int32)


@pytest.mark.slow
def test_the_largest_num_samples_answers_and_one_more_is_refused_with_the_server_alive(exported, tmp_path):
    model, path, _ = exported
    bounds = json.loads((path / kvae.export.publish.MARKER).read_text())
    assert bounds["max_score_samples"] == kvae.export.MAX_SCORE_SAMPLES == 10_000
    top = bounds["max_score_samples"]
    results = _serve(path, [
        ("score_k", {"x": _x(), "num_samples": _k(1, top)}),
        ("score_k", {"x": _x(), "num_samples": _k(1, top + 1)}),
        ("score_k", {"x": _x(), "num_samples": _k(1, 2**31 - 1)}),  # once a segfault
        ("score_k", {"x": _x(2), "num_samples": _k(2, 8)}),  # still serving
    ], tmp_path)
    assert results[0]["ok"] and results[0]["finite"] and results[0]["shapes"]["log_likelihood"] == [1]
    assert not results[1]["ok"]
    assert "input `num_samples` must be in [1, 10000] (max_score_samples), received] [10001]" in results[1]["error"]
    assert "received] [2147483647]" in results[2]["error"]
    assert results[3]["ok"]


BAD = [
    ("score_k", {"x": _x(0), "num_samples": _k(0, 4)}, "signature `score_k` needs at least one row of `x`"),
    ("score_k", {"x": np.full((3, 4, 4), 0.5, np.float32), "num_samples": _k(3, 4)},
     "input `x` must have shape [batch, 4, 4, 1], received] [3 4 4]"),
    ("encode", {"x": np.full((2, 16), 0.5, np.float32)}, "input `x` must have shape [batch, 4, 4, 1], received] [2 16]"),
    ("score_k", {"x": _x(9), "num_samples": _k(9, 4)}, "input `x` must have at most 8 rows (max_batch), received] [9]"),
    ("generate", {"seed": np.arange(9, dtype=np.int64)}, "input `seed` must have at most 8 rows (max_batch)"),
    ("decode", {"z": np.zeros((9, 3), np.float32)}, "input `z` must have at most 8 rows (max_batch)"),
    ("score_k", {"x": _x(2), "num_samples": _k(2, 64)},
     "a score request must have batch x num_samples at most 100 (max_score_rows), received] [128]"),
    ("score_k", {"x": _x(1), "num_samples": _k(1, 0)}, "input `num_samples` must be in [1, 64] (max_score_samples)"),
    ("score_k", {"x": _x(2), "num_samples": _k(1, 4)}, "input `num_samples` must have one value per row of `x`"),
    ("score", {"x": _x(2, 1e30)}, "input `x` must be in [0, 1] for the Bernoulli likelihood, received values in"),
    ("reconstruct", {"x": _x(2, -3.0)}, "input `x` must be in [0, 1] for the Bernoulli likelihood"),
]


@pytest.mark.slow
def test_every_size_and_value_a_client_sends_is_checked_in_the_graph(exported, tmp_path):
    _, _, path = exported
    results = _serve(path, [(signature, inputs) for signature, inputs, _ in BAD] + [("score", {"x": _x(2)})],
                     tmp_path)
    for (signature, _, message), result in zip(BAD, results):
        assert not result["ok"] and message in result["error"], (signature, message, result)
    assert results[-1]["ok"]  # and it still answers


def test_limits_are_recorded_and_checked_at_export(exported):
    model, _, small = exported
    recorded = json.loads((small / kvae.export.publish.MARKER).read_text())
    assert {k: recorded[k] for k in ("max_batch", "max_score_samples", "max_score_rows", "score_samples")} == {
        "max_batch": 8, "max_score_samples": 64, "max_score_rows": 100, "score_samples": 4}
    with pytest.raises(ValueError, match=r"`score_samples` must be at most max_score_samples \(64\)"):
        kvae.export.limits(model, score_samples=65, max_score_samples=64)
    with pytest.raises(ValueError, match=r"`max_batch` must be a positive integer, received: 0"):
        kvae.export.limits(model, max_batch=0)


@pytest.mark.slow
def test_a_gaussian_score_that_overflows_float32_is_an_error_not_a_nan(tmp_path):
    model = tiny_vae(SHAPE, latent_dim=2, likelihood="gaussian")
    path = kvae.export.export_saved_model(model, tmp_path / "gaussian", score_samples=4)
    results = _serve(path, [("score", {"x": _x(2, 1e30)}), ("score", {"x": _x(2, 3.0)})], tmp_path)
    assert not results[0]["ok"] and "signature `score` overflowed float32 on this input" in results[0]["error"]
    assert results[1]["ok"] and results[1]["finite"]


def _png_header(width, height):
    """The first bytes of a PNG that declares `width` × `height` (the rest would be the pixels)."""
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk


@pytest.mark.slow
def test_an_image_that_declares_too_many_pixels_is_refused_before_decoding(tmp_path):
    decoding = kvae.data.ImageDecoding((4, 4), 1)
    model = tiny_vae(SHAPE, latent_dim=2)
    path = kvae.export.export_saved_model(model, tmp_path / "images", transform=decoding, score_samples=4)
    small = tf.io.encode_png(np.zeros((6, 6, 1), np.uint8)).numpy()
    gif = b"GIF89a" + (50000).to_bytes(2, "little") + (50000).to_bytes(2, "little")
    bomb = _png_header(100_000, 100_000)
    results = _serve(path, [
        ("encode_image", {"image_bytes": np.array([small, bomb], dtype=object).astype("S")}),
        ("score_image", {"image_bytes": np.array([gif], dtype=object).astype("S")}),
        ("encode_image", {"image_bytes": np.array([small], dtype=object).astype("S")}),
    ], tmp_path)
    for result, pixels in zip(results[:2], (10**10, 50000**2)):
        assert not result["ok"]
        assert f"an image declares more than {2**24} pixels, received] [{pixels}]" in result["error"], result
    assert results[2]["ok"]
    assert int(kvae.export.transformed.declared_pixels(tf.constant(small))) == 36
