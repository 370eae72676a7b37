"""The conv VAE against the same network in PyTorch, in both of PyTorch's memory formats.

Every row trains `build_vae(..., architecture="conv")` (3×3 stride-2 convolutions of 32 and 64
filters, Dense 256, z of 20, the mirror-image decoder, Bernoulli logits) on Fashion-MNIST's grey
levels with Adam 1e-3, batch 128, through a plain `fit(x_numpy, batch_size=128)` in a fresh process,
timed from building the model to the end of `fit`:

- `kvae conv defaults`: `compile()` (the fused Adam), TensorFlow's graph with oneDNN (NHWC);
- `kvae conv XLA`: the same with `jit_compile=True`, what Keras picks on a machine with a GPU;
- `kvae conv mixed_bfloat16`: the defaults under Keras' `mixed_bfloat16` policy;
- `pytorch NCHW` / `pytorch channels_last`: bench/references.py's `train_pytorch_conv`, the same
  layers, `binary_cross_entropy_with_logits`, PyTorch's Adam, in its default NCHW memory format and
  in `torch.channels_last` (NHWC);
- `pytorch bf16 NCHW` / `pytorch bf16 channels_last`: the same under `torch.autocast` bfloat16.

Rounds alternate the rows (rotated). Each kvae row is compared with PyTorch's *faster* memory format
at the same precision (float32 rows with the faster float32 row, the bfloat16 row with the faster
bfloat16 row), on steady epochs (the fastest after the first) and on the whole fit.

Usage:
    python -m bench.conv [--epochs 3] [--rounds 2] [--train-examples 15000] [--quick]

Prints a table and writes bench/results/conv.json.
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.output import machine, write_json  # noqa: E402
from bench.run import _have_torch, run_job  # noqa: E402
from bench.whole_fit import summarise  # noqa: E402

ROWS = {
    "kvae conv defaults": {"impl": "kvae"},
    "kvae conv XLA": {"impl": "kvae", "jit_compile": True},
    "kvae conv mixed_bfloat16": {"impl": "kvae", "dtype_policy": "mixed_bfloat16"},
    "pytorch NCHW": {"impl": "pytorch"},
    "pytorch channels_last": {"impl": "pytorch", "channels_last": True},
    "pytorch bf16 NCHW": {"impl": "pytorch", "bfloat16": True},
    "pytorch bf16 channels_last": {"impl": "pytorch", "bfloat16": True, "channels_last": True},
}
TARGET = 1.5  # the issue's: kvae's conv VAE at ≥ 1.5× PyTorch's faster memory format


def _bfloat16(row):
    return row.get("bfloat16", False) or row.get("dtype_policy") == "mixed_bfloat16"


def compare(summary, rows=ROWS):
    """Adds to each kvae row its ratios to PyTorch's faster memory format at the same precision."""
    for key in ("steady_epoch_samples_per_s", "whole_fit_samples_per_s"):
        for name, row in summary.items():
            if rows[name]["impl"] != "kvae" or key not in row:
                continue
            references = {n: r[key] for n, r in summary.items()
                          if rows[n]["impl"] == "pytorch" and _bfloat16(rows[n]) == _bfloat16(rows[name])}
            if references:
                fastest = max(references, key=references.get)
                row[f"{key}_reference"] = fastest
                row[f"{key}_vs_pytorch"] = row[key] / references[fastest]
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--train-examples", type=int, default=15000)
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--quick", action="store_true", help="smoke budget: 512 examples, 2 epochs, one round")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "conv.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.rounds, args.train_examples = 2, 1, 512
    data = {"data_dir": args.data_dir, "train_examples": args.train_examples,
            "test_examples": 256 if args.quick else 2000, "architecture": "conv"}
    rows = {name: ROWS[name] for name in ROWS if name in args.rows}
    if not _have_torch():
        print("PyTorch is not installed: kvae rows only (pip install torch==2.13.0 for the references).")
        rows = {name: row for name, row in rows.items() if row["impl"] != "pytorch"}

    runs = {name: [] for name in rows}
    for round_ in range(args.rounds):
        names = list(rows)
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            result = run_job("whole_fit", {**data, **rows[name], "seed": round_, "epochs": args.epochs},
                             timeout=3600, in_process=args.quick)
            runs[name].append(result)
            print(f"  {name:<28} round {round_}: fit {result['fit_seconds']:6.1f} s, epochs "
                  + " ".join(f"{s:.1f}" for s in result["epoch_seconds"])
                  + f" s, test -ELBO {result['test_neg_elbo']:.2f}", flush=True)
    summary = compare({name: summarise(results, args.train_examples, args.epochs)
                       for name, results in runs.items()}, rows)
    for row in summary.values():
        if "steady_epoch_samples_per_s_vs_pytorch" in row:
            row["target_met"] = row["steady_epoch_samples_per_s_vs_pytorch"] >= TARGET

    print(f"\nconv VAE, Fashion-MNIST, {args.train_examples} examples, {args.epochs} epochs, batch 128, "
          f"{args.rounds} rounds (medians)")
    print(f"{'row':<28}{'steady ex/s':>12}{'vs PyTorch':>11}{'whole fit ex/s':>15}{'vs PyTorch':>11}"
          f"{'first call s':>13}{'test -ELBO':>11}  reference")
    for name, row in summary.items():
        def ratio(key):
            value = row.get(f"{key}_vs_pytorch")
            return f"{value:10.2f}x" if value is not None else " " * 11

        print(f"{name:<28}{row.get('steady_epoch_samples_per_s', float('nan')):12,.0f}"
              f"{ratio('steady_epoch_samples_per_s')}{row['whole_fit_samples_per_s']:15,.0f}"
              f"{ratio('whole_fit_samples_per_s')}{row['first_step_seconds']:13.2f}{row['test_neg_elbo']:11.2f}"
              f"  {row.get('steady_epoch_samples_per_s_reference', '')}")
    return write_json(args.out, {
        "command": "python -m bench.conv " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "setup": {"model": "conv VAE: conv 32, 64 (3×3, stride 2), Dense 256, z 20; Bernoulli", "batch_size": 128,
                  "examples": args.train_examples, "epochs": args.epochs, "rounds": args.rounds,
                  "input": "fit(x_numpy, batch_size=128)"},
        "target": TARGET,
        "summary": summary,
        "runs": runs,
    })


def readme_table(saved):
    """The README's table of this benchmark, rendered from its JSON (a test checks the README holds it)."""
    lines = ["| row | steady epoch ex/s | vs PyTorch | whole fit ex/s | vs PyTorch | PyTorch row compared | "
             "test −ELBO |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for name in [n for n in ROWS if n in saved["summary"]]:
        row = saved["summary"][name]
        steady, fit = row.get("steady_epoch_samples_per_s_vs_pytorch"), row.get("whole_fit_samples_per_s_vs_pytorch")
        lines.append(f"| {name} | {row['steady_epoch_samples_per_s']:,.0f} | "
                     f"{'' if steady is None else f'{steady:.2f}×'} | {row['whole_fit_samples_per_s']:,.0f} | "
                     f"{'' if fit is None else f'{fit:.2f}×'} | {row.get('steady_epoch_samples_per_s_reference', '')} | "
                     f"{row['test_neg_elbo']:.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
