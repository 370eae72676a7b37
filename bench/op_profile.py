"""Where a kvae training step spends its time: a `tf.profiler` trace reduced to an op breakdown.

`profile_fit(steps)` traces `steps` training steps of the benchmark model's default `fit` (the fused
Adam, or Keras' with `fused_adam=False`) and
reads the trace (`.xplane.pb`) back: the time of every TensorFlow op, grouped into matmuls
(forward and gradient), the optimizer, the likelihood, the rest, per training step. Op times are
summed over TensorFlow's inter-op threads, so on 2 cores they may add up to twice the wall time.
"""

import collections
import glob
import os
import tempfile
import time


def profile_fit(x, steps=96, steps_per_execution="auto", fused_adam=True):
    import tensorflow as tf

    import kvae
    from bench.references import build_kvae

    vae = build_kvae(x, seed=0, steps_per_execution=steps_per_execution, fused_adam=fused_adam)
    train = kvae.data.make_dataset(x, 128, shuffle=True, seed=0)
    vae.fit(train.take(steps), epochs=1, verbose=0, shuffle=False)  # trace the functions outside the profile
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        start = time.perf_counter()
        vae.fit(train.take(steps), epochs=1, verbose=0, shuffle=False)
        seconds = time.perf_counter() - start
        tf.profiler.experimental.stop()
        (path,) = glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb"))
        ops = op_times(path)
    per_step = {name: us / steps for name, us in ops["by_group"].items()}
    return {
        "steps": steps,
        "steps_per_execution": vae.steps_per_execution,
        "optimizer": type(vae.optimizer).__module__ + "." + type(vae.optimizer).__name__,
        "wall_ms_per_step_while_profiling": seconds / steps * 1e3,
        "op_us_per_step": dict(sorted(per_step.items(), key=lambda kv: -kv[1])),
        "top_ops_us_per_step": {k: v / steps for k, v in ops["by_op"].most_common(12)},
        "ops_per_step": ops["count"] / steps,
        "tf_data_us_per_step": ops["tf_data_us"] / steps,
    }


def op_times(path):
    """Sums a trace's TensorFlow op events (`scope:OpType`) by group and by op type, in µs."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    (plane,) = [p for p in space.planes if p.name == "/host:CPU"]
    by_group, by_op = collections.Counter(), collections.Counter()
    count, tf_data_us = 0, 0.0
    for line in plane.lines:
        for event in line.events:
            name = plane.event_metadata[event.metadata_id].name
            us = event.duration_ps / 1e6
            if line.name.startswith("tf_data") and name == "PrefetchProduce":
                tf_data_us += us
            if not line.name.startswith("tf_Compute") or ":" not in name:
                continue
            scope, op_type = name.rsplit(":", 1)
            if op_type == "Process":  # the executor's container event, not an op
                continue
            by_group[_group(scope, op_type)] += us
            by_op[op_type] += us
            count += 1
    return {"by_group": by_group, "by_op": by_op, "count": count, "tf_data_us": tf_data_us}


def _group(scope, op_type):
    if "adam" in scope.lower():
        return "optimizer"
    if "MatMul" in op_type:
        return "matmul (gradients)" if "gradient_tape" in scope else "matmul (forward)"
    if "gradient_tape" in scope:
        return "other backward"
    if "tracker" in scope or "active_units" in scope or op_type.startswith("AssignAdd"):
        return "metrics"
    return "other forward"
