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
