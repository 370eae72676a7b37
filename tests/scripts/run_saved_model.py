"""Runs every signature of a SavedModel in a process where kvae cannot be imported.

    python run_saved_model.py SAVED_MODEL_DIR INPUTS.npz OUTPUTS.npz [--session]

INPUTS.npz holds "<signature>/<input>" arrays; OUTPUTS.npz gets
"<signature>/<output>" arrays. With --session the model is loaded the way TF
Serving loads it: the TF1 session-based loader, fed by signature tensor names.
"""

import sys

# Forked from a server that imported TensorFlow alone (tests/distributed.py), or started fresh.
if any(name == "kvae" or name.startswith(("kvae.", "kvae_cli")) for name in sys.modules):
    raise SystemExit("kvae is loaded: the test would prove nothing")
sys.modules["kvae"] = None  # any `import kvae` now raises ImportError

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

try:
    import kvae  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit("kvae is importable: the test would prove nothing")

path, inputs_path, outputs_path = sys.argv[1:4]
session_mode = "--session" in sys.argv
arrays = dict(np.load(inputs_path))
requests = {}
for key, value in arrays.items():
    signature, name = key.split("/")
    requests.setdefault(signature, {})[name] = value

outputs = {}
if session_mode:
    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], path)
        for signature, feeds in requests.items():
            definition = meta_graph.signature_def[signature]
            feed_dict = {definition.inputs[k].name: v for k, v in feeds.items()}
            names = sorted(definition.outputs)
            values = session.run([definition.outputs[n].name for n in names], feed_dict=feed_dict)
            outputs.update({f"{signature}/{n}": v for n, v in zip(names, values)})
else:
    loaded = tf.saved_model.load(path)
    for signature, feeds in requests.items():
        result = loaded.signatures[signature](**{k: tf.constant(v) for k, v in feeds.items()})
        outputs.update({f"{signature}/{n}": v.numpy() for n, v in result.items()})
        if signature == "generate":  # same seeds, same samples: twice
            again = loaded.signatures[signature](**{k: tf.constant(v) for k, v in feeds.items()})
            outputs.update({f"{signature}_again/{n}": v.numpy() for n, v in again.items()})
np.savez(outputs_path, **outputs)
