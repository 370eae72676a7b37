"""Sends requests one after another to a SavedModel loaded as TF Serving loads it, in one process.

    python serve_requests.py SAVED_MODEL_DIR REQUESTS.npz RESULTS.json

REQUESTS.npz holds "<n>/<signature>/<input>" arrays (requests in the order of
n). Each request runs through TF1's session loader and the C++ session call
TF Serving makes; RESULTS.json lists, per request, `{"ok": true, "shapes": ...}`
or `{"ok": false, "error": "<first line of the error>"}`. A request that
crashed the process would leave no RESULTS.json and a negative exit code.
kvae is not importable here.
"""

import json
import sys

# Forked from a server that imported TensorFlow alone (tests/distributed.py), or started fresh.
if any(name == "kvae" or name.startswith(("kvae.", "kvae_cli")) for name in sys.modules):
    raise SystemExit("kvae is loaded: the test would prove nothing")
sys.modules["kvae"] = None

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.python.client import pywrap_tf_session  # noqa: E402

path, requests_path, results_path = sys.argv[1:4]
arrays = dict(np.load(requests_path))
requests = {}
for key, value in arrays.items():
    n, signature, name = key.split("/")
    requests.setdefault(int(n), (signature, {}))[1][name] = value

results = []
with tf.compat.v1.Session(graph=tf.Graph()) as session:
    meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], path)
    tensor = session.graph.get_tensor_by_name
    for n in sorted(requests):
        signature, inputs = requests[n]
        definition = meta_graph.signature_def[signature]
        feeds = {tensor(definition.inputs[k].name)._as_tf_output(): v for k, v in inputs.items()}
        names = sorted(definition.outputs)
        fetches = [tensor(definition.outputs[k].name)._as_tf_output() for k in names]
        try:
            values = pywrap_tf_session.TF_SessionRun_wrapper(session._session, None, feeds, fetches, [], None)
        except tf.errors.OpError as e:
            lines = [line for line in e.message.splitlines() if "assertion failed" in line or "must" in line]
            results.append({"ok": False, "error": (lines or e.message.splitlines() or [""])[0]})
        else:
            results.append({"ok": True, "shapes": {k: list(np.shape(v)) for k, v in zip(names, values)},
                            "finite": bool(all(np.all(np.isfinite(v)) for v in values))})
with open(results_path, "w") as f:
    json.dump(results, f)
