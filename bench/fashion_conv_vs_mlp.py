"""Conv VAE with KL warm-up vs the MLP baseline on binarised Fashion-MNIST: IS-NLL at equal epochs.

Runs examples/fashion_mnist_conv_vae.py twice with the same seed, epochs and
data: the convolutional VAE with a 3-epoch KL warm-up, and the 784-400-20 MLP
VAE without warm-up. Both are scored on the same fixed binarisation of the
first --test-examples test images with K = --iw-samples importance samples.
The difference of their NLLs is paired (same images), so its standard error
is that of the per-image differences.

Usage:
    python bench/fashion_conv_vs_mlp.py [--epochs 10] [--test-examples 1000] [--iw-samples 1000]

Prints a table and writes bench/results/fashion_conv_vs_mlp.json.
"""

import argparse
import importlib.util
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `python bench/...py` as well as `python -m bench...`

from bench import output  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def _example():
    path = ROOT / "examples" / "fashion_mnist_conv_vae.py"
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None):
    command = "python bench/fashion_conv_vs_mlp.py " + " ".join(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--warmup-epochs", type=int, default=3)
    parser.add_argument("--train-examples", type=int, default=None)
    parser.add_argument("--test-examples", type=int, default=1000)
    parser.add_argument("--iw-samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=str(RESULTS / "fashion_conv_vs_mlp.json"))
    parser.add_argument("--runs-dir", default="runs/bench_fashion", help="run folders (model, pictures) go here")
    args = parser.parse_args(argv)

    example = _example()
    runs = {}
    for name, architecture, warmup in (("conv + warm-up", "conv", args.warmup_epochs), ("mlp", "mlp", 0)):
        run_dir = Path(args.runs_dir) / architecture
        argv_run = ["--architecture", architecture, "--warmup-epochs", str(warmup), "--epochs", str(args.epochs),
                    "--test-examples", str(args.test_examples), "--iw-samples", str(args.iw_samples),
                    "--seed", str(args.seed), "--out", str(run_dir)]
        if args.train_examples:
            argv_run += ["--train-examples", str(args.train_examples)]
        if args.data_dir:
            argv_run += ["--data-dir", args.data_dir]
        start = time.perf_counter()
        runs[name] = example.main(argv_run)
        runs[name]["seconds"] = time.perf_counter() - start
    conv, mlp = runs["conv + warm-up"], runs["mlp"]
    diff = conv.pop("per_example")["nll"] - mlp.pop("per_example")["nll"]
    paired = {
        "nll_difference": float(diff.mean()),
        "nll_difference_stderr": float(diff.std(ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else 0.0,
        "conv_better": bool(diff.mean() < 0),
    }
    print(f"\nFashion-MNIST (binarised), {args.epochs} epochs, IS-NLL with K={args.iw_samples} "
          f"on {args.test_examples} test images, seed {args.seed}")
    for meaning in sorted({r["nll_meaning"] for r in runs.values()}):
        print(f"The NLLs are {meaning}.")
    print(f"{'model':<16}{'-ELBO':>16}{'IS-NLL':>16}{'bits/dim':>10}{'active':>8}{'time s':>9}")
    for name, r in runs.items():
        print(f"{name:<16}{r['test_neg_elbo']:>9.2f} ± {r['test_neg_elbo_stderr']:<4.2f}"
              f"{r['test_nll']:>9.2f} ± {r['test_nll_stderr']:<4.2f}{r['test_nll_bits_per_dim']:>10.4f}"
              f"{r['active_units']:>5}/{r['latent_dim']:<2}{r['seconds']:>9.0f}")
    print(f"paired IS-NLL difference conv − mlp: {paired['nll_difference']:.2f} ± "
          f"{paired['nll_difference_stderr']:.2f} nats")
    payload = {
        "command": command.strip(),
        "config": vars(args),
        "machine": output.machine(),
        "runs": runs,
        "paired": paired,
    }
    return output.write_json(args.out, payload)


if __name__ == "__main__":
    main()
