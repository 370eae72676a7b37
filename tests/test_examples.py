from pathlib import Path

import pytest

from conftest import load_script

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"



@pytest.mark.e2e
def test_digits_quickstart_runs_and_writes_its_outputs(tmp_path):
    neg_elbo, nll = load_script("examples/digits_quickstart.py").main(["--epochs", "3", "--out", str(tmp_path)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.keras", "history.csv", "samples.png"]
    assert 15 < neg_elbo < 45 and nll <= neg_elbo + 0.5


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
