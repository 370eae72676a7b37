"""kvae vs the classic PyTorch VAE: test −ELBO and throughput on Fashion-MNIST.

Both train the 784-400-20 MLP VAE (ReLU, Bernoulli decoder on grey levels,
Adam 1e-3, batch 128, shuffled) for the same epochs from the same data, and
report test −ELBO in nats per example (one posterior sample per example, as the
PyTorch example's test loop does) and training examples per second. kvae runs
through its command line, exactly as a user would:

    kvae train --data fashion_mnist --epochs 3 --hidden 400 --latent-dim 20 \
        --batch-size 128 --likelihood bernoulli --seed S

Usage:
    python bench/pytorch_reference.py [--seeds 0 1 2] [--epochs 3] [--data-dir DIR]

Prints a table and writes bench/results/pytorch_reference.json.
"""

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def run_kvae(seed, epochs, data_dir):
    from kvae_cli import main

    with tempfile.TemporaryDirectory() as tmp:
        argv = [
            "train", "--data", "fashion_mnist", "--epochs", str(epochs), "--hidden", "400",
            "--latent-dim", "20", "--batch-size", "128", "--likelihood", "bernoulli",
            "--seed", str(seed), "--out", tmp, "--verbose", "0",
        ]
        if data_dir:
            argv += ["--data-dir", data_dir]
        if main(argv) != 0:
            raise SystemExit("kvae train failed")
        metrics = json.loads((Path(tmp) / "metrics.json").read_text())
    return {"test_neg_elbo": metrics["test_neg_elbo"], "train_samples_per_s": metrics["train_samples_per_s"]}


def run_pytorch(seed, epochs, x_train, x_test):
    """The pytorch/examples `vae/main.py` model and loops (bench/references.py), on the same arrays."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.references import train_pytorch

    result = train_pytorch(x_train, x_test, seed, epochs)
    seconds = sum(result["epoch_seconds"])
    return {"test_neg_elbo": result["test_neg_elbo"], "train_samples_per_s": len(x_train) * epochs / seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()

    import kvae

    data = kvae.data.load_fashion_mnist(args.data_dir)
    try:
        import torch  # noqa: F401

        have_torch = True
    except ImportError:
        have_torch = False
        print("PyTorch not installed: reporting kvae only (pip install torch for the reference).")

    runs = {"kvae": [], "pytorch": []}
    for seed in args.seeds:  # alternate implementations so machine noise hits both alike
        runs["kvae"].append(run_kvae(seed, args.epochs, args.data_dir))
        if have_torch:
            runs["pytorch"].append(run_pytorch(seed, args.epochs, data.x_train, data.x_test))

    summary = {}
    print(f"\nFashion-MNIST, 784-400-20 MLP VAE, Bernoulli, Adam 1e-3, batch 128, {args.epochs} epochs, seeds {args.seeds}")
    print(f"{'implementation':<16}{'test -ELBO (nats)':>20}{'± std':>8}{'train examples/s':>20}")
    for name, results in runs.items():
        if not results:
            continue
        elbo = np.array([r["test_neg_elbo"] for r in results])
        speed = np.array([r["train_samples_per_s"] for r in results])
        summary[name] = {
            "test_neg_elbo_mean": float(elbo.mean()),
            "test_neg_elbo_std": float(elbo.std()),
            "train_samples_per_s_mean": float(speed.mean()),
            "runs": results,
        }
        print(f"{name:<16}{elbo.mean():>20.2f}{elbo.std():>8.2f}{speed.mean():>20.0f}")
    if have_torch:
        gap = summary["kvae"]["test_neg_elbo_mean"] - summary["pytorch"]["test_neg_elbo_mean"]
        ratio = summary["kvae"]["train_samples_per_s_mean"] / summary["pytorch"]["train_samples_per_s_mean"]
        summary["kvae_minus_pytorch_neg_elbo"] = gap
        summary["kvae_over_pytorch_throughput"] = ratio
        summary["within_2_nats"] = bool(abs(gap) <= 2.0)
        print(f"\nkvae − PyTorch test −ELBO: {gap:+.2f} nats (target: within 2); throughput ratio {ratio:.2f}×")
    summary["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0]}
    summary["epochs"], summary["seeds"] = args.epochs, args.seeds
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "pytorch_reference.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
