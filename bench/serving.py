"""Latency of each signature of a loaded kvae SavedModel: p50/p99 at batch 1 and 256.

    python bench/serving.py [--saved-model DIR] [--calls 200]

Without --saved-model, exports the classic 784-400-20 MLP VAE (Bernoulli,
Fashion-MNIST-sized inputs) to a temporary folder first. Loads it with
`tf.saved_model.load` and times each signature call (inputs already tensors,
outputs fetched to NumPy) after warm-up. Prints a table and writes
bench/results/serving.json.
"""

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--saved-model", default=None)
    parser.add_argument("--calls", type=int, default=200, help="timed calls per signature and batch size")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 256])
    parser.add_argument("--out", default=str(HERE / "results" / "serving.json"))
    args = parser.parse_args(argv)

    import tensorflow as tf

    import kvae

    with tempfile.TemporaryDirectory() as tmp:
        path = args.saved_model
        if path is None:
            model = kvae.build_vae((28, 28, 1), 20, hidden_units=400, seed=0)
            path = str(kvae.export.export_saved_model(model, Path(tmp) / "vae"))
        loaded = tf.saved_model.load(path)
        latent_dim = loaded.signatures["encode"].structured_outputs["mean"].shape[-1]
        event_shape = tuple(loaded.signatures["generate"].structured_outputs["sample"].shape[1:])
        rows = []
        for signature in kvae.export.SIGNATURES:
            fn = loaded.signatures[signature]
            for batch in args.batch_sizes:
                inputs = kvae.export.example_inputs(event_shape, latent_dim, batch, num_samples=100)
                feeds = {k: tf.constant(v) for k, v in inputs[signature].items()}
                for _ in range(5):  # warm-up
                    fn(**feeds)
                times = []
                calls = args.calls if batch == 1 else max(3, args.calls // 10)
                for _ in range(calls):
                    start = time.perf_counter()
                    {k: v.numpy() for k, v in fn(**feeds).items()}
                    times.append(time.perf_counter() - start)
                ms = np.array(times) * 1000
                rows.append({"signature": signature, "batch": batch, "calls": calls,
                             "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))})
    print(f"\nSavedModel latency ({'given model' if args.saved_model else '784-400-20 MLP VAE'}), {os.cpu_count()} CPUs")
    print(f"{'signature':<12}{'batch':>6}{'p50 ms':>10}{'p99 ms':>10}")
    for r in rows:
        print(f"{r['signature']:<12}{r['batch']:>6}{r['p50_ms']:>10.3f}{r['p99_ms']:>10.3f}")
    summary = {"model": args.saved_model or "784-400-20 MLP VAE, Bernoulli, untrained", "rows": rows,
               "machine": {"cpus": os.cpu_count(), "platform": platform.platform()}}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {out}")
    return summary


if __name__ == "__main__":
    main()
