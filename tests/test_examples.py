from pathlib import Path

import numpy as np
import pytest

from conftest import load_script

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"



@pytest.mark.e2e
def test_digits_quickstart_runs_and_writes_its_outputs(tmp_path):
    neg_elbo, nll = load_script("examples/digits_quickstart.py").main(["--epochs", "3", "--out", str(tmp_path)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.keras", "history.csv", "samples.png"]
    assert 15 < neg_elbo < 45 and nll <= neg_elbo + 0.5


@pytest.mark.e2e
def test_fashion_conv_example_warms_up_logs_images_and_reports_is_nll(tmp_path, fashion_data_dir):
    import csv
    import json

    import tensorflow as tf

    argv = ["--epochs", "2", "--warmup-epochs", "1", "--train-examples", "512", "--test-examples", "30",
            "--iw-samples", "20", "--out", str(tmp_path)]
    result = load_script("examples/fashion_mnist_conv_vae.py").main(
        argv + (["--data-dir", fashion_data_dir] if fashion_data_dir else [])
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "history.csv", "images", "model.keras", "result.json", "tensorboard",
    ]
    with open(tmp_path / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["beta"]) for r in rows] == pytest.approx([3 / 4, 1.0])  # 4 steps of warm-up
    samples = tf.io.decode_png((tmp_path / "images" / "samples_epoch_0002.png").read_bytes())
    assert samples.shape == (8 * 29 + 1, 8 * 29 + 1, 1)  # 64 cells of 28×28
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["architecture"] == "conv" and saved["test_examples"] == 30 and saved["iw_samples"] == 20
    assert result["per_example"]["nll"].shape == (30,)
    assert 0 < saved["test_nll"] <= saved["test_neg_elbo"] + 3 * saved["test_neg_elbo_stderr"]
    assert saved["test_nll_bits_per_dim"] == pytest.approx(saved["test_nll"] / (784 * 0.6931471805599453))


@pytest.mark.e2e
def test_gaussian_decoder_example_learns_a_calibrated_sigma(tmp_path):
    import json

    result = load_script("examples/gaussian_decoder_vae.py").main(["--epochs", "60", "--out", str(tmp_path)])
    assert (tmp_path / "sigma.png").stat().st_size > 10_000
    assert json.loads((tmp_path / "result.json").read_text()) == json.loads(json.dumps(result))
    assert len(result["sigma_per_feature"]) == 30 and result["test_examples"] == 114
    # Learning σ per feature beats σ = 1 on held-out tumours, and tracks the error.
    assert result["learned_sigma"]["test_nll"] < result["fixed_sigma"]["test_nll"] - 5
    assert result["sigma_rmse_correlation"] > 0.7


@pytest.mark.e2e
def test_anomaly_example_scores_the_held_out_class(tmp_path, fashion_data_dir):
    import json

    argv = ["--holdout", "8", "--epochs", "1", "--iw-samples", "5", "--test-examples", "400",
            "--train-examples", "3000", "--out", str(tmp_path)]
    script = load_script("examples/anomaly_scores.py")
    result = script.main(argv + (["--data-dir", fashion_data_dir] if fashion_data_dir else []))
    assert json.loads((tmp_path / "result.json").read_text()) == result
    ((name, auroc),) = result["auroc"].items()
    assert name == "Bag" and 0.0 <= auroc <= 1.0
    assert (tmp_path / "scores.png").stat().st_size > 10_000
    with pytest.raises(SystemExit, match="--holdout must be a class in 0..9, received: 10"):
        script.main(["--holdout", "10", "--out", str(tmp_path)])


@pytest.mark.e2e
def test_existing_pipeline_example_trains_with_plain_keras_callbacks(tmp_path):
    import csv

    history, logs = load_script("examples/existing_pipeline.py").main(["--epochs", "3", "--image-every", "1", "--out", str(tmp_path)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.keras", "history.csv", "tensorboard"]
    assert history["beta"] == pytest.approx([0.0, 0.2, 0.4])  # KLWarmup(5, unit="epoch")
    with open(tmp_path / "history.csv") as f:
        assert [float(r["beta"]) for r in csv.DictReader(f)] == pytest.approx([0.0, 0.2, 0.4])
    # The checkpoint is chosen on val_elbo, which β does not change: the best epoch's.
    assert -logs["elbo"] == pytest.approx(-max(history["val_elbo"]), rel=0.03)
    assert sorted(p.name for p in (tmp_path / "tensorboard").iterdir()) == ["images", "train", "validation"]


def test_kubernetes_manifest_gives_each_pod_a_consistent_tf_config():
    import json
    import os
    import subprocess
    import sys
    import textwrap

    import yaml

    documents = list(yaml.safe_load_all((EXAMPLES / "kubernetes" / "multi_worker_job.yaml").read_text()))
    kinds = {d["kind"]: d for d in documents}
    assert set(kinds) == {"Service", "PersistentVolumeClaim", "Job"}
    job, service = kinds["Job"], kinds["Service"]
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    workers = int(next(e["value"] for e in container["env"] if e["name"] == "NUM_WORKERS"))
    assert job["spec"]["completionMode"] == "Indexed"
    assert job["spec"]["completions"] == job["spec"]["parallelism"] == workers
    assert pod["subdomain"] == service["metadata"]["name"]
    assert service["spec"]["clusterIP"] == "None"
    script = container["args"][0]
    assert "kvae train --strategy multi_worker" in script
    snippet = textwrap.dedent(script.split("python -c '")[1].split("')\"")[0])
    port = service["spec"]["ports"][0]["port"]
    for index in range(workers):
        env = dict(os.environ, JOB_COMPLETION_INDEX=str(index), NUM_WORKERS=str(workers))
        config = json.loads(subprocess.run([sys.executable, "-c", snippet], env=env, capture_output=True,
                                           text=True, check=True).stdout)
        assert config["task"] == {"type": "worker", "index": index}
        assert config["cluster"]["worker"] == [
            f"{job['metadata']['name']}-{k}.{service['metadata']['name']}:{port}" for k in range(workers)
        ]


@pytest.mark.e2e
def test_image_folder_example_trains_with_the_cli_and_serves_png_bytes(tmp_path):
    example = load_script("examples/image_folder_vae.py")
    result = example.main(["--data", "digits", "--images", "300", "--epochs", "2", "--work", str(tmp_path)])
    assert result["version"].endswith("/1") and np.all(np.isfinite(result["log_likelihood"]))
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == [str(k) for k in range(10)]


@pytest.mark.e2e
def test_serving_client_sends_images_as_base64_that_tf_serving_decodes(tmp_path):
    import base64
    import json

    import tensorflow as tf

    import kvae

    client = load_script("examples/serving_client.py")
    images = [tf.io.encode_png(tf.fill([8, 8, 1], tf.constant(v, tf.uint8))).numpy() for v in (0, 128)]
    body = json.loads(json.dumps(client.rest_images("score_image", images)))
    # TF Serving's REST API turns {"b64": ...} into the bytes of a DT_STRING tensor.
    received = [base64.b64decode(row["image_bytes"]["b64"]) for row in body["instances"]]
    assert body["signature_name"] == "score_image" and received == images
    model = kvae.build_vae((8, 8, 1), 2, hidden_units=(16,), seed=0)
    path = kvae.export.export_saved_model(model, tmp_path / "images", score_samples=4,
                                          transform=kvae.data.ImageDecoding((8, 8), 1))
    served = tf.saved_model.load(str(path)).signatures
    on_bytes = served["score_image"](image_bytes=tf.constant(received))
    on_pixels = served["score"](x=tf.stack([kvae.data.ImageDecoding((8, 8), 1).decode(b) for b in images]))
    np.testing.assert_allclose(on_bytes["log_likelihood"], on_pixels["log_likelihood"], rtol=1e-6)


@pytest.mark.e2e
def test_serving_client_requests_run_on_the_exported_model(tmp_path):
    """Decode the client's REST and gRPC bodies as TF Serving does and run them."""
    import json

    import numpy as np
    import tensorflow as tf

    import kvae

    client = load_script("examples/serving_client.py")
    model = kvae.build_vae(client.EVENT_SHAPE, client.LATENT_DIM, hidden_units=(16,), seed=0)
    path = kvae.export.export_saved_model(model, tmp_path / "digits", score_samples=4)
    loaded = tf.saved_model.load(str(path))
    for signature, inputs in client.example_inputs().items():
        specs = loaded.signatures[signature].structured_input_signature[1]
        expected = loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
        rows = json.loads(json.dumps(client.rest_rows(signature, inputs)))["instances"]
        columns = json.loads(json.dumps(client.rest_columns(signature, inputs)))["inputs"]
        request = client.predict_request("digits", signature, inputs)
        assert request.model_spec.signature_name == signature
        decoded = {
            "rows": {k: np.array([row[k] for row in rows]) for k in specs},
            "columns": {k: np.array(v) for k, v in columns.items()},
            "grpc": {k: tf.make_ndarray(v) for k, v in request.inputs.items()},
        }
        for fmt, feeds in decoded.items():
            result = loaded.signatures[signature](**{k: tf.constant(v, specs[k].dtype) for k, v in feeds.items()})
            for key, value in expected.items():
                np.testing.assert_allclose(result[key], value, rtol=1e-5, atol=1e-6, err_msg=f"{fmt} {signature} {key}")
