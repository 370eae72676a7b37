"""SavedModel export: signatures equal the Keras methods, also in TF Serving's loader."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import kvae
from conftest import tiny_vae, uniform_data
from distributed import SCRIPTS, env, run

# Its module-scoped fixtures train or export: one worker runs them once (`--dist loadgroup`).
pytestmark = pytest.mark.xdist_group("test_export")

SHAPE = (4, 4, 1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    model = tiny_vae(SHAPE, latent_dim=3)
    model.fit(uniform_data(32, SHAPE), batch_size=8, epochs=2, verbose=0)
    base = tmp_path_factory.mktemp("saved_models") / "tiny"
    path = kvae.export.export_saved_model(model, base, score_samples=16)
    return model, path


def _requests(model):
    x = uniform_data(5, SHAPE, seed=7)
    z = np.random.default_rng(1).normal(size=(5, 3)).astype("float32")
    return {
        "encode/x": x, "serving_default/x": x, "decode/z": z, "reconstruct/x": x,
        "generate/seed": np.array([0, 1, 42, 42, 7], np.int64),
        "score/x": x, "score_k/x": x, "score_k/num_samples": np.full(5, 8, np.int32),
    }


def _expected(model, requests):
    x = requests["encode/x"]
    encoded = model.posterior_layer.outputs(model.encode(x))
    params = model.likelihood.parameters(model.decoder(requests["decode/z"]))
    sample, z = model.generate(requests["generate/seed"])
    expected = {
        **{f"{signature}/{key}": value for signature in ("encode", "serving_default") for key, value in encoded.items()},
        "decode/logits": params["logits"], "decode/probs": params["probs"],
        "reconstruct/reconstruction": model.reconstruct(x),
        "generate/sample": sample, "generate/z": z,
    }
    for name, k in (("score", 16), ("score_k", 8)):
        for key, value in model.score(x, num_samples=k).items():
            expected[f"{name}/{key}"] = value
    return {k: np.asarray(v) for k, v in expected.items()}


def _run_in_fresh_process(path, requests, tmp_path, *flags):
    np.savez(tmp_path / "in.npz", **requests)
    code, output = run([sys.executable, str(SCRIPTS / "run_saved_model.py"), str(path), str(tmp_path / "in.npz"),
                        str(tmp_path / "out.npz"), *flags], tmp_path / "run_saved_model.log", timeout=300)
    assert code == 0, output[-5000:]
    return dict(np.load(tmp_path / "out.npz"))


@pytest.mark.e2e
@pytest.mark.parametrize("parts", ["vamp-full-iwae", "iaf"])
def test_the_family_serves_every_signature_without_kvae(tmp_path, parts):
    # The VampPrior: the served prior runs the encoder on its pseudo-inputs (the mixture's is plainer);
    # here with the full-covariance posterior, whose KL and components are MultivariateNormalTriL.
    # The flow: the served encoder, score and reconstruction run the MADE steps.
    if parts == "iaf":
        kwargs = {"posterior": kvae.posteriors.IAF(2, hidden_units=8, context_units=4)}
    else:
        kwargs = {"prior": kvae.priors.VampPrior(num_components=3, seed=0), "posterior": "full",
                  "objective": kvae.objectives.IWAE(3, gradient="dreg")}
    model = tiny_vae(SHAPE, latent_dim=3, **kwargs)
    model.fit(uniform_data(32, SHAPE), batch_size=8, epochs=2, verbose=0)
    path = kvae.export.export_saved_model(model, tmp_path / "served", score_samples=16)
    requests = _requests(model)
    outputs = _run_in_fresh_process(path, requests, tmp_path)
    expected = _expected(model, requests)
    assert {"encode/scale_tril" if parts != "iaf" else "encode/base_stddev"} <= set(expected) <= set(outputs)
    for key, value in expected.items():
        np.testing.assert_allclose(outputs[key], value, rtol=1e-5, atol=1e-5, err_msg=key)
    np.testing.assert_array_equal(outputs["generate_again/sample"], outputs["generate/sample"])


@pytest.fixture(scope="module")
def conditional_served(tmp_path_factory):
    """A conditional VAE with the flow posterior, trained and exported once for both loaders."""
    model = tiny_vae(SHAPE, latent_dim=3, num_classes=4, posterior=kvae.posteriors.IAF(1, hidden_units=8))
    model.fit(uniform_data(32, SHAPE), np.arange(32) % 4, batch_size=8, epochs=2, verbose=0)
    path = kvae.export.export_saved_model(model, tmp_path_factory.mktemp("conditional") / "served", score_samples=16)
    return model, path


@pytest.mark.e2e
@pytest.mark.parametrize("loader", ["tf.saved_model.load", "session (TF Serving's path)"])
def test_a_conditional_vae_serves_by_label_without_kvae(conditional_served, tmp_path, loader):
    """Every signature takes `label`; "a sandal for seed 7" is the same image in kvae, served, and again."""
    model, path = conditional_served
    labels = np.array([0, 1, 2, 3, 3], np.int64)
    requests = _requests(model)
    for signature in {key.split("/")[0] for key in requests}:
        requests[f"{signature}/label"] = labels
    requests["generate/seed"] = np.array([7, 7, 7, 7, 8], np.int64)
    flags = ["--session"] if loader.startswith("session") else []
    outputs = _run_in_fresh_process(path, requests, tmp_path, *flags)
    x, z = requests["encode/x"], requests["decode/z"]
    sample, _ = model.generate(requests["generate/seed"], condition=labels)
    expected = {
        "generate/sample": sample,
        "reconstruct/reconstruction": model.reconstruct(x, condition=labels),
        "decode/probs": model.likelihood.parameters(model.decoder_params(z, condition=labels))["probs"],
        **{f"encode/{k}": v for k, v in model.posterior_layer.outputs(model.encode(x, condition=labels)).items()},
        **{f"score/{k}": v for k, v in model.score(x, num_samples=16, condition=labels).items()},
    }
    for key, value in expected.items():
        np.testing.assert_allclose(outputs[key], np.asarray(value), rtol=1e-5, atol=1e-5, err_msg=key)
    assert not np.allclose(outputs["generate/sample"][0], outputs["generate/sample"][1])  # seed 7, labels 0 and 1
    if not flags:
        np.testing.assert_array_equal(outputs["generate_again/sample"], outputs["generate/sample"])
    # A label out of range is refused by the graph, also through TF Serving's loader.
    bad = {"generate/seed": np.array([1], np.int64), "generate/label": np.array([4], np.int64)}
    np.savez(tmp_path / "bad.npz", **bad)
    code, output = run([sys.executable, str(SCRIPTS / "run_saved_model.py"), str(path), str(tmp_path / "bad.npz"),
                        str(tmp_path / "bad_out.npz"), *flags], tmp_path / "bad.log", timeout=300)
    assert code != 0 and "input `label` must be in [0, 4)" in output, output[-3000:]


@pytest.mark.e2e
@pytest.mark.parametrize("loader", ["tf.saved_model.load", "session (TF Serving's path)"])
def test_every_signature_matches_the_keras_methods_without_kvae(trained, tmp_path, loader):
    model, path = trained
    requests = _requests(model)
    flags = ["--session"] if loader.startswith("session") else []
    outputs = _run_in_fresh_process(path, requests, tmp_path, *flags)
    expected = _expected(model, requests)
    assert set(expected) <= set(outputs)
    for key, value in expected.items():
        np.testing.assert_allclose(outputs[key], value, rtol=1e-5, atol=1e-5, err_msg=key)
    if not flags:
        np.testing.assert_array_equal(outputs["generate_again/sample"], outputs["generate/sample"])
        np.testing.assert_array_equal(outputs["generate/sample"][2], outputs["generate/sample"][3])


def test_signatures_have_batched_inputs_and_named_outputs(trained):
    _, path = trained
    loaded = tf.saved_model.load(str(path))
    assert set(loaded.signatures) == set(kvae.export.SIGNATURES) | {"serving_default"}
    shapes = {name: {k: (v.dtype.name, tuple(v.shape)) for k, v in f.structured_input_signature[1].items()}
              for name, f in loaded.signatures.items()}
    assert shapes["encode"] == shapes["reconstruct"] == shapes["score"] == {"x": ("float32", (None, 4, 4, 1))}
    assert shapes["decode"] == {"z": ("float32", (None, 3))}
    assert shapes["generate"] == {"seed": ("int64", (None,))}
    assert shapes["score_k"] == {"x": ("float32", (None, 4, 4, 1)), "num_samples": ("int32", (None,))}
    outputs = {name: sorted(f.structured_outputs) for name, f in loaded.signatures.items()}
    assert outputs["serving_default"] == outputs["encode"] == ["mean", "stddev"]
    assert outputs["decode"] == ["logits", "probs"]
    assert outputs["score"] == ["log_likelihood", "neg_elbo"]


@pytest.mark.parametrize(
    "signature, inputs, message",
    [
        ("encode", {"x": np.zeros((2, 4, 5, 1), np.float32)}, r"input `x` must have shape \[batch, 4, 4, 1\]"),
        ("reconstruct", {"x": np.full((2, 4, 4, 1), np.nan, np.float32)}, r"input `x` must hold finite values, received NaN or Inf"),
        ("decode", {"z": np.zeros((2, 5), np.float32)}, r"input `z` must have shape \[batch, 3\]"),
        ("score_k", {"x": np.zeros((2, 4, 4, 1), np.float32), "num_samples": np.array([4, 5], np.int32)},
         r"input `num_samples` must be the same in every row"),
    ],
)
@pytest.mark.parametrize("loader", ["tf.saved_model.load", "session (TF Serving's C++ call)"])
def test_bad_inputs_fail_with_a_clear_invalid_argument(trained, signature, inputs, message, loader):
    _, path = trained
    if loader == "tf.saved_model.load":
        loaded = tf.saved_model.load(str(path))
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
        return
    # TF Serving's path: the TF1 loader, Grappler on, and the C++ run call, which (unlike
    # Python's session.run) does not compare a fed tensor with the declared shape.
    from tensorflow.python.client import pywrap_tf_session

    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        definition = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(path)).signature_def[signature]
        tensor = session.graph.get_tensor_by_name
        feeds = {tensor(definition.inputs[k].name)._as_tf_output(): v for k, v in inputs.items()}
        fetches = [tensor(v.name)._as_tf_output() for v in definition.outputs.values()]
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            pywrap_tf_session.TF_SessionRun_wrapper(session._session, None, feeds, fetches, [], None)


@pytest.mark.slow
def test_saved_model_cli_shows_the_declared_shapes(trained):
    _, path = trained
    shown = subprocess.run(["saved_model_cli", "show", "--dir", str(path), "--all"], capture_output=True,
                           text=True, env=env(), timeout=120).stdout
    signatures = {block.split("'")[0]: block for block in shown.split("signature_def['")[1:]}
    assert "shape: (-1, 4, 4, 1)" in signatures["encode"] and "shape: (-1, 3)" in signatures["decode"]
    assert "shape: (-1, -1" not in shown


def test_warmup_file_holds_predict_requests_for_existing_signatures(trained):
    from tensorflow_serving.apis import prediction_log_pb2

    _, path = trained
    loaded = tf.saved_model.load(str(path))
    records = list(tf.data.TFRecordDataset(str(path / kvae.export.WARMUP_FILE)).as_numpy_iterator())
    seen = set()
    for record in records:
        log = prediction_log_pb2.PredictionLog.FromString(record)
        request = log.predict_log.request
        assert request.model_spec.name == "tiny"
        signature = loaded.signatures[request.model_spec.signature_name]
        specs = signature.structured_input_signature[1]
        assert set(request.inputs) == set(specs)
        for key, proto in request.inputs.items():
            value = tf.make_ndarray(proto)
            assert tf.as_dtype(proto.dtype) == specs[key].dtype
            assert specs[key].shape.is_compatible_with(value.shape)
        signature(**{k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()})  # runs
        seen.add(request.model_spec.signature_name)
    assert seen == set(kvae.export.SIGNATURES) and len(records) == 2 * len(seen)


def _digest(folder):
    digest = hashlib.sha256()
    for root, dirs, files in sorted(os.walk(folder)):
        dirs.sort()
        for name in sorted(files):
            file = os.path.join(root, name)
            digest.update(os.path.relpath(file, folder).encode() + open(file, "rb").read())
    return digest.hexdigest()


@pytest.mark.slow
def test_failed_export_leaves_nothing_and_versions_are_never_overwritten(tmp_path, monkeypatch):
    model = tiny_vae(SHAPE)
    base = tmp_path / "m"
    first = kvae.export.export_saved_model(model, base)
    before = _digest(first)

    def broken(*args, **kwargs):
        raise OSError("disk full (injected)")

    monkeypatch.setattr(kvae.export.publish, "write_warmup", broken)
    with pytest.raises(OSError, match="injected"):
        kvae.export.export_saved_model(model, base)
    assert sorted(os.listdir(base)) == ["1"]  # no version 2, no temporary folder
    monkeypatch.undo()

    second = kvae.export.export_saved_model(model, base)
    assert second.name == "2" and _digest(first) == before
    with pytest.raises(FileExistsError, match=r"version folder '.*/m/1' already exists; pass overwrite=True"):
        kvae.export.export_saved_model(model, base, version=1)
    assert _digest(first) == before
    kvae.export.export_saved_model(model, base, version=1, overwrite=True)
    assert sorted(os.listdir(base)) == ["1", "2"]
    assert oct(os.stat(second).st_mode & 0o777) == "0o755"


@pytest.mark.parametrize("version", [0, -1, "2", 1.5])
def test_bad_version_is_a_clear_error(tmp_path, version):
    with pytest.raises(ValueError, match=r"`version` must be a positive integer, received: "):
        kvae.export.export_saved_model(tiny_vae(SHAPE), tmp_path, version=version)
    assert not any(tmp_path.iterdir())


def test_the_committed_digits_model_serves():
    path = Path(__file__).resolve().parent.parent / "saved_models" / "digits" / "1"
    loaded = tf.saved_model.load(str(path))
    assert set(loaded.signatures) == set(kvae.export.SIGNATURES) | {"serving_default"}
    sample = loaded.signatures["generate"](seed=tf.constant([3, 3], tf.int64))["sample"].numpy()
    assert sample.shape == (2, 8, 8, 1) and np.array_equal(sample[0], sample[1])
    assert 0.0 <= sample.min() and sample.max() <= 1.0
    x = kvae.data.load_digits().x_test[:4]
    scores = loaded.signatures["score"](x=tf.constant(x))
    assert np.all(scores["log_likelihood"].numpy() >= -scores["neg_elbo"].numpy() - 1e-3)
    assert (path / kvae.export.WARMUP_FILE).is_file()
    assert tuple(loaded.signatures["encode"].structured_input_signature[1]["x"].shape) == (None, 8, 8, 1)
    bounds = json.loads((path / kvae.export.publish.MARKER).read_text())  # served with the request bounds
    assert bounds["max_score_samples"] == kvae.export.MAX_SCORE_SAMPLES and bounds["max_batch"] == kvae.export.MAX_BATCH


@pytest.mark.slow
def test_keras_model_export_writes_the_full_saved_model_of_a_never_called_model(tmp_path):
    model = tiny_vae(SHAPE, latent_dim=3)  # built, never called: Keras' generic export would refuse it
    path = tmp_path / "exported"
    path.mkdir()  # an empty folder is written into
    model.export(path)
    (path / "assets.extra" / "tf_serving_warmup_requests").unlink()
    model.export(path)  # kvae's own older export is replaced whole
    assert sorted(p.name for p in path.iterdir()) == ["assets", "assets.extra", "fingerprint.pb", "saved_model.pb",
                                                      "variables"]
    assert (path / "assets.extra" / "tf_serving_warmup_requests").is_file()
    loaded = tf.saved_model.load(str(path))
    assert set(loaded.signatures) == set(kvae.export.SIGNATURES) | {"serving_default"}
    x = uniform_data(3, SHAPE)
    np.testing.assert_allclose(loaded.signatures["encode"](x=tf.constant(x))["mean"], model.encode(x).mean(), rtol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exported"]  # no temporary folder left


def _run_onnx(path, inputs):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path))
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, inputs)))


def _run_litert(path, inputs):
    import warnings

    with warnings.catch_warnings():  # TF 2.21 points to ai_edge_litert; the interpreter is the same
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(model_path=str(path))
    return interpreter.get_signature_runner()(**inputs)


@pytest.mark.slow
@pytest.mark.parametrize("fmt, suffix, run", [("onnx", "onnx", _run_onnx), ("litert", "tflite", _run_litert)])
def test_onnx_and_litert_endpoints_match_the_saved_model(trained, tmp_path, fmt, suffix, run):
    """model.export(format="onnx" | "litert"): each runtime gives the SavedModel's outputs, by name."""
    model, path = trained
    served = tf.saved_model.load(str(path)).signatures
    requests = _requests(model)
    for endpoint, key in (("encode", "x"), ("decode", "z"), ("reconstruct", "x")):
        inputs = {key: requests[f"{endpoint}/{key}"]}
        written = model.export(tmp_path / f"{endpoint}.{suffix}", format=fmt, endpoint=endpoint)
        outputs = run(written, inputs)
        expected = served[endpoint](**{k: tf.constant(v) for k, v in inputs.items()})
        assert sorted(outputs) == sorted(expected), endpoint
        for name, value in expected.items():
            np.testing.assert_allclose(outputs[name], value, rtol=1e-5, atol=1e-6, err_msg=f"{endpoint}/{name}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{e}.{suffix}" for e in kvae.export.ENDPOINTS)


def test_a_learned_likelihood_scale_reaches_the_onnx_decoder(tmp_path):
    model = tiny_vae(SHAPE, latent_dim=3, likelihood=kvae.likelihoods.GaussianFixed(scale=0.3, learn_scale=True))
    z = np.zeros((2, 3), np.float32)
    outputs = _run_onnx(model.export(tmp_path / "decode.onnx", format="onnx", endpoint="decode"), {"z": z})
    np.testing.assert_allclose(outputs["stddev"], np.full((2,) + SHAPE, 0.3), rtol=1e-5)
    np.testing.assert_allclose(outputs["mean"], model.decoder_params(z), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"format": "openvino"}, "`format` must be one of ['tf_saved_model', 'onnx', 'litert'], received: 'openvino'"),
    ({"format": "onnx", "endpoint": "score"}, "`endpoint` must be one of ['encode', 'decode', 'reconstruct'], "
                                              "received: 'score'"),
    ({"input_signature": [tf.TensorSpec([None, 4])]}, "`input_signature` must be None for a kvae.VAE"),
    ({"format": "litert", "dtype": "mixed_bfloat16"}, "`format='litert'` needs a model that computes in float32"),
])
def test_keras_model_export_refuses_what_it_cannot_write(tmp_path, kwargs, message):
    kwargs = dict(kwargs)
    model = tiny_vae(SHAPE, latent_dim=3, **({"dtype": kwargs.pop("dtype")} if "dtype" in kwargs else {}))
    with pytest.raises(ValueError) as info:
        model.export(tmp_path / "m", **kwargs)
    assert str(info.value).startswith(message)
    assert not any(tmp_path.iterdir())
