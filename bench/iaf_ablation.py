"""Why kvae's IAF posterior ends behind pythae's `VAE_IAF`: the choices where they differ, one at a time.

Both sides train `bench/family.py`'s 784-400-20 MLP VAE with 2 flow steps, each a MADE of 3 × 128,
on Fashion-MNIST's grey levels (Bernoulli decoder, Adam 1e-3, batch 128, --epochs epochs), each
model in a fresh process. kvae's IAF and pythae's differ in:

- the update: Kingma et al.'s gated step, z ← σ ⊙ z + (1 − σ) ⊙ m with σ = sigmoid(g + 1) in
  (0, 1) (kvae's `update="gated"`, its default until this ablation), or the affine step
  z ← exp(s) ⊙ z + m (pythae's, and now kvae's default `update="affine"`);
- the context: the encoder may also emit a 32-unit h that enters every MADE (`context_units=32`, kvae's
  old default); pythae's flow sees z only (`context_units=0`, kvae's default now).

The variants cross these two; every one is scored on the same first --test-examples test images
(IS-NLL with K = --iw-samples), so differences to pythae's IAF are paired: their standard errors are
those of the per-image differences. With several --seeds, each variant's mean difference over seeds
and the seeds' spread are reported too (training noise that pairing does not remove).

Usage:
    python bench/iaf_ablation.py [--epochs 10] [--test-examples 1000] [--iw-samples 1000] [--seeds 0 1]

Prints a table and writes bench/results/iaf_ablation.json.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `python bench/...py` as well as `python -m bench...`

from bench import family  # noqa: E402
from bench import output  # noqa: E402

RESULTS = ROOT / "bench" / "results"
REFERENCE = "pythae VAE_IAF"
VARIANTS = {
    "kvae gated, h=32": ("kvae", {"update": "gated", "context_units": 32}),
    "kvae gated, no h": ("kvae", {"update": "gated", "context_units": 0}),
    "kvae affine, no h": ("kvae", {"update": "affine", "context_units": 0}),
    "kvae affine, h=32": ("kvae", {"update": "affine", "context_units": 32}),
    REFERENCE: ("pythae", {"model": "VAE_IAF"}),
}


def readme_table(saved):
    """The README's table of this benchmark, rendered from its JSON (a test checks the README holds it)."""
    lines = ["| IAF variant | IS-NLL (nats, mean of seeds) | − pythae `VAE_IAF` (paired, per seed) | examples/s |",
             "| --- | --- | --- | --- |"]
    for name in [n for n in VARIANTS if n in saved["summary"]]:
        row = saved["summary"][name]
        versus = row.get("vs_pythae")
        diff = "" if versus is None else " / ".join(f"{p['difference']:+.2f} ± {p['stderr']:.2f}"
                                                     for p in versus["by_seed"])
        lines.append(f"| {name} | {row['test_nll']:.2f} | {diff} | {row['samples_per_s']:,.0f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    command = "python bench/iaf_ablation.py " + " ".join(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--train-examples", type=int, default=None)
    parser.add_argument("--test-examples", type=int, default=1000)
    parser.add_argument("--iw-samples", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--quick", action="store_true", help="smoke budget: 1 epoch on 256 examples, K = 5")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=str(RESULTS / "iaf_ablation.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.train_examples, args.test_examples, args.iw_samples = 1, 256, 20, 5
    variants = [v for v in args.variants if VARIANTS[v][0] == "kvae" or family._have_pythae()]
    if len(variants) < len(args.variants):
        print("pythae (or PyTorch) is not installed: its row is skipped (pip install torch==2.13.0 pythae==0.1.2)")

    runs, per_example = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            # Rotate the order per seed, so that no variant always runs first on a warming machine.
            order = variants[seed % len(variants):] + variants[:seed % len(variants)]
            for name in order:
                side, options = VARIANTS[name]
                options = dict(options, **family.IAF_SHAPE, seed=seed, epochs=args.epochs,
                               train_examples=args.train_examples, test_examples=args.test_examples,
                               iw_samples=args.iw_samples, data_dir=args.data_dir,
                               per_example=os.path.join(tmp, f"{len(runs)}.npz"))
                if side == "kvae":
                    options.update(prior="normal", objective="elbo", posterior="iaf")
                result = family._run(side, options, timeout=3 * 3600, in_process=args.quick)
                seconds = result["epoch_seconds"][1:] or result["epoch_seconds"]
                result["samples_per_s"] = (args.train_examples or 60000) / float(np.median(seconds))
                runs[f"{name} | seed {seed}"] = {"variant": name, "seed": seed, "side": side, **result}
                per_example[(name, seed)] = dict(np.load(options["per_example"]))["nll"]
                print(f"  seed {seed} {name:<36} IS-NLL {result['test_nll']:.2f}  -ELBO {result['test_neg_elbo']:.2f}"
                      f"  {result['samples_per_s']:>7.0f} examples/s", flush=True)

    summary = {}
    for name in variants:
        nll = [runs[f"{name} | seed {s}"]["test_nll"] for s in args.seeds]
        row = {"test_nll": float(np.mean(nll)), "test_nll_by_seed": nll,
               "samples_per_s": float(np.mean([runs[f"{name} | seed {s}"]["samples_per_s"] for s in args.seeds]))}
        if REFERENCE in variants and name != REFERENCE:
            paired = [family._paired(per_example[(name, s)], per_example[(REFERENCE, s)]) for s in args.seeds]
            diffs = [p["difference"] for p in paired]
            row["vs_pythae"] = {
                "by_seed": paired, "mean_difference": float(np.mean(diffs)),
                "seed_spread": float(np.std(diffs, ddof=1)) if len(diffs) > 1 else None,
                "within_target": float(np.mean(diffs)) <= family.TARGETS["nll_margin_nats"],
                "throughput_ratio": row["samples_per_s"] / float(np.mean(
                    [runs[f"{REFERENCE} | seed {s}"]["samples_per_s"] for s in args.seeds])),
            }
        summary[name] = row

    print(f"\nIAF ablation: Fashion-MNIST grey levels, 784-400-20 MLP, 2 steps of MADE 3 × 128, {args.epochs} "
          f"epochs, IS-NLL K={args.iw_samples} on {args.test_examples} test images, seeds {args.seeds}")
    print(f"{'variant':<36}{'IS-NLL':>9}{'− pythae':>18}{'examples/s':>12}{'speed':>8}")
    for name, row in summary.items():
        versus = row.get("vs_pythae")
        diff = (f"{versus['mean_difference']:+.2f} ± {max(p['stderr'] for p in versus['by_seed']):.2f}"
                if versus else "")
        speed = f"{versus['throughput_ratio']:.2f}×" if versus else ""
        print(f"{name:<36}{row['test_nll']:>9.2f}{diff:>18}{row['samples_per_s']:>12.0f}{speed:>8}")
    payload = {"command": command.strip(), "config": vars(args), "machine": output.machine(),
               "target_nll_margin_nats": family.TARGETS["nll_margin_nats"], "runs": runs, "summary": summary}
    return output.write_json(args.out, payload)


if __name__ == "__main__":
    main()
