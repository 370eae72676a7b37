"""One benchmark job in a fresh process: `python -m bench.worker JOB JSON_ARGS` prints one JSON line.

A process per job keeps TensorFlow's and PyTorch's thread pools apart and gives each job its own
peak resident memory (`peak_rss_mib`, from getrusage).
"""

import functools
import json
import os
import resource
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _fashion(args):
    data = _load_fashion(args.get("data_dir"))
    n = args.get("train_examples")
    return data.x_train[:n], data.x_test[: args.get("test_examples")]


@functools.cache
def _load_fashion(data_dir):
    # Once per process: the --quick budget runs every job in one process (a second a load).
    import kvae

    return kvae.data.load_fashion_mnist(data_dir)


def train_kvae(args):
    """`kvae.build_vae` + `compile` + `fit`, as the README shows.

    Options: `input` ("dataset": `fit(make_dataset(...))`; "numpy": plain `fit(x, batch_size=128)`),
    `dtype_policy` (Keras' global policy, e.g. "mixed_bfloat16"), `kl_warmup` (a per-step
    `kvae.callbacks.KLWarmup` over the first epoch), `steps_per_execution`, `optimizer`.
    """
    import keras

    import kvae
    from bench.references import _EpochTimer, build_kvae

    x_train, x_test = _fashion(args)
    keras.config.set_dtype_policy(args.get("dtype_policy", "float32"))
    vae = build_kvae(x_train, args["seed"], fused_adam=args.get("optimizer") == "fused",
                     steps_per_execution=args.get("steps_per_execution", "auto"))
    timer = _EpochTimer()
    callbacks = [timer]
    if args.get("kl_warmup"):
        callbacks.insert(0, kvae.callbacks.KLWarmup(duration=kvae.data.steps_per_epoch(len(x_train), 128)))
    if args.get("input", "dataset") == "numpy":
        vae.fit(x_train, batch_size=128, epochs=args["epochs"], verbose=0, callbacks=callbacks)
    else:
        train = kvae.data.make_dataset(x_train, 128, shuffle=True, seed=args["seed"])
        vae.fit(train, epochs=args["epochs"], verbose=0, shuffle=False, callbacks=callbacks)
    test = vae.evaluate(kvae.data.make_dataset(x_test, 500), return_dict=True, verbose=0)
    return {"epoch_seconds": timer.seconds, "test_neg_elbo": -test["elbo"],
            "steps_per_execution": vae.steps_per_execution}


def whole_fit(args):
    """One whole `fit` on NumPy arrays, timed from building the model: the path and the clock users have.

    `impl`: "kvae" (`build_kvae` + `fit(x, batch_size=128)`; `optimizer` "default" is the fused
    Adam `compile()` gives, "keras" an explicit `keras.optimizers.Adam(1e-3)`; `dtype_policy`,
    `jit_compile`) or "pytorch" (bench/references.py's fast form; `bfloat16` for autocast,
    `channels_last` for the conv VAE's NHWC memory format). `architecture`: "mlp" or "conv". Returns the fit's seconds,
    each epoch's, and the seconds to the end of the first training call (kvae: its first
    `steps_per_execution` steps; PyTorch: its first step).
    """
    x_train, x_test = _fashion(args)
    architecture = args.get("architecture", "mlp")
    if args["impl"] == "pytorch":
        from bench import references

        if architecture == "conv":
            return references.train_pytorch_conv(x_train, x_test, args["seed"], args["epochs"],
                                                 channels_last=args.get("channels_last", False),
                                                 bfloat16=args.get("bfloat16", False))
        return references.train_pytorch(x_train, x_test, args["seed"], args["epochs"], fast=True,
                                         bfloat16=args.get("bfloat16", False))
    import keras

    from bench.references import _EpochTimer, build_kvae

    keras.config.set_dtype_policy(args.get("dtype_policy", "float32"))

    class FirstCall(_EpochTimer):
        needs_every_batch = False  # Keras calls it once per call of `steps_per_execution` steps

        def __init__(self):
            super().__init__()
            self.first_call = None

        def on_train_batch_end(self, batch, logs=None):
            if self.first_call is None:
                self.first_call = time.perf_counter() - begin

    begin = time.perf_counter()
    vae = build_kvae(x_train, args["seed"], fused_adam=args.get("optimizer", "default") != "keras",
                     architecture=architecture, jit_compile=args.get("jit_compile", "auto"))
    timer = FirstCall()
    vae.fit(x_train, batch_size=128, epochs=args["epochs"], verbose=0, callbacks=[timer])
    fit_seconds = time.perf_counter() - begin
    test = vae.evaluate(x_test, batch_size=500, return_dict=True, verbose=0)
    return {"epoch_seconds": timer.seconds, "fit_seconds": fit_seconds, "first_step_seconds": timer.first_call,
            "test_neg_elbo": -test["elbo"], "steps_per_execution": vae.steps_per_execution,
            "optimizer": type(vae.optimizer).__module__ + "." + type(vae.optimizer).__name__}


def train_reference(args):
    from bench import references

    x_train, x_test = _fashion(args)
    if args["impl"] == "pytorch":
        return references.train_pytorch(x_train, x_test, args["seed"], args["epochs"],
                                         fast=args.get("fast", False), bfloat16=args.get("bfloat16", False))
    return references.train_keras_io(x_train, x_test, args["seed"], args["epochs"])


def roofline(args):
    """Peak GFLOP/s of a large square matmul (best of several) in a tf.function, float32 or bfloat16."""
    import tensorflow as tf

    n, dtype = args.get("size", 2048), args.get("dtype", "float32")
    a, b = tf.cast(tf.random.normal([n, n]), dtype), tf.cast(tf.random.normal([n, n]), dtype)
    matmuls = tf.function(lambda a, b: [tf.reduce_sum(tf.matmul(a + tf.cast(i, dtype), b)) for i in range(5)])
    best = 0.0
    for _ in range(args.get("repeats", 5)):
        [c.numpy() for c in matmuls(a, b)]
        start = time.perf_counter()
        [c.numpy() for c in matmuls(a, b)]
        best = max(best, 2 * n**3 * 5 / (time.perf_counter() - start) / 1e9)
    return {"peak_gflops": best, "size": n, "dtype": dtype}


def shape_matmuls(args):
    """GFLOP/s of the benchmark model's own matmuls (batch 128) in a tf.function, float32 and bfloat16.

    Forward (x·W for 784→400 and 400→784), weight gradients (xᵀ·δ) and the input gradient of the
    784-wide layer: what bounds the step, where the 2048² roofline is the best case.
    """
    import tensorflow as tf

    groups = {
        "forward": [([128, 784], [784, 400], False, False), ([128, 400], [400, 784], False, False)],
        "weight gradients": [([128, 784], [128, 400], True, False), ([128, 400], [128, 784], True, False)],
        "input gradient": [([128, 784], [400, 784], False, True)],
    }
    rows = []
    for group, shapes in groups.items():
        flops = sum(2 * a[0] * a[1] * (b[0] if tb else b[1]) for a, b, ta, tb in shapes)
        for dtype in ("float32", "bfloat16"):
            tensors = [(tf.cast(tf.random.normal(a), dtype), tf.cast(tf.random.normal(b), dtype), ta, tb)
                       for a, b, ta, tb in shapes]
            run = tf.function(lambda: [tf.reduce_sum(tf.matmul(a, b, transpose_a=ta, transpose_b=tb))
                                       for a, b, ta, tb in tensors])
            run()
            best = float("inf")
            for _ in range(args.get("repeats", 5)):
                start = time.perf_counter()
                for _ in range(100):
                    out = run()
                [o.numpy() for o in out]
                best = min(best, (time.perf_counter() - start) / 100)
            rows.append({"group": group, "dtype": dtype, "ms": best * 1e3, "gflops": flops / best / 1e9})
    return {"rows": rows}


def log_likelihood_memory(args):
    """`log_likelihood` with K samples over n test examples: time and peak memory."""
    import kvae

    _, x_test = _fashion(args)
    vae = kvae.build_vae(x_test.shape[1:], 20, hidden_units=(400,), seed=0)
    start = time.perf_counter()
    log_px = vae.log_likelihood(x_test, num_samples=args["num_samples"])
    return {"seconds": time.perf_counter() - start, "examples": len(log_px), "num_samples": args["num_samples"]}


def encode_latency(args):
    """p50/p99 of the exported SavedModel's `encode` signature at batch 1, loaded without kvae."""
    import tempfile

    import numpy as np
    import tensorflow as tf

    import kvae

    vae = kvae.build_vae((28, 28, 1), 20, hidden_units=(400,), seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        path = kvae.export.export_saved_model(vae, os.path.join(tmp, "m"), score_samples=4)
        encode = tf.saved_model.load(str(path)).signatures["serving_default"]
        x = tf.constant(np.random.default_rng(0).uniform(size=(1, 28, 28, 1)).astype("float32"))
        for _ in range(50):
            encode(x=x)
        times = []
        for _ in range(args.get("calls", 500)):
            start = time.perf_counter()
            encode(x=x)
            times.append((time.perf_counter() - start) * 1e3)
    return {"p50_ms": float(np.percentile(times, 50)), "p99_ms": float(np.percentile(times, 99)), "calls": len(times)}


def scaling(args):
    """kvae fit throughput as one setting grows: the faster of two timed epochs after a warm-up epoch."""
    import keras

    import kvae
    from bench.references import _EpochTimer

    x_train, _ = _fashion(args)
    rows = []
    for value in args["values"]:
        setting = {"batch_size": 128, "latent_dim": 20, "hidden": 400, "examples": args.get("examples", len(x_train))}
        setting[args["axis"]] = value
        x = x_train[: setting["examples"]]
        keras.utils.set_random_seed(0)
        vae = kvae.build_vae(x.shape[1:], setting["latent_dim"], hidden_units=(setting["hidden"],), seed=0)
        vae.compile(optimizer=keras.optimizers.Adam(1e-3))
        timer = _EpochTimer()
        vae.fit(kvae.data.make_dataset(x, setting["batch_size"], shuffle=True, seed=0), epochs=3, verbose=0,
                shuffle=False, callbacks=[timer])
        seconds = min(timer.seconds[1:])
        rows.append({**setting, "epoch_seconds": seconds, "samples_per_s": len(x) / seconds,
                     "peak_rss_mib_so_far": peak_rss_mib()})
    return {"axis": args["axis"], "rows": rows}


def profile(args):
    """An op-level breakdown of kvae's default training step (see bench/op_profile.py)."""
    import keras

    from bench.op_profile import profile_fit

    keras.config.set_dtype_policy("float32")  # in --quick's one process, a bfloat16 row may have run before
    x_train, _ = _fashion(args)
    return profile_fit(x_train, steps=args.get("steps", 96), fused_adam=args.get("fused_adam", True))


JOBS = {
    "profile": profile,
    "kvae": train_kvae,
    "whole_fit": whole_fit,
    "reference": train_reference,
    "roofline": roofline,
    "shape_matmuls": shape_matmuls,
    "log_likelihood": log_likelihood_memory,
    "encode_latency": encode_latency,
    "scaling": scaling,
}


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    job, args = sys.argv[1], json.loads(sys.argv[2])
    result = JOBS[job](args)
    result["peak_rss_mib"] = peak_rss_mib()
    print("BENCH_RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
