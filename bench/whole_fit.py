"""Whole fits as users time them: kvae's defaults against PyTorch's fastest form, 1, 3 and 10 epochs.

Every row trains the 784-400-20 Fashion-MNIST VAE (ReLU, Bernoulli decoder on grey levels, Adam 1e-3,
batch 128) with a plain `fit(x_numpy, batch_size=128)` in a fresh process, timed from building the model
to the end of `fit`:

- `kvae defaults`: `compile()`, which is the fused Adam (`kvae.optimizers.Adam`);
- `kvae keras Adam`: `compile(optimizer=keras.optimizers.Adam(1e-3))`, what the defaults were;
- `kvae mixed_bfloat16`: the defaults under Keras' `mixed_bfloat16` policy;
- `pytorch fp32` / `pytorch bf16`: bench/references.py's fast form (logits and
  `binary_cross_entropy_with_logits`, PyTorch's Adam), without and with `torch.autocast` bfloat16.

Rounds alternate the rows (rotated, so none always goes first). Reported per row and fit length:
the median whole-fit examples/s, the steady epoch (the fastest epoch after the first, for 3 and 10
epochs), the seconds to the first training call's end (kvae: its first `steps_per_execution` steps;
PyTorch: its first step), the fit's overhead (the whole fit minus its epochs at the steady speed)
and test −ELBO; and each kvae row's ratio to `pytorch fp32` and `pytorch bf16`. Then a `tf.profiler`
trace of 96 steps with each optimizer (bench/op_profile.py): ops per step and the step's op time in
matmuls, the optimizer, the other (element-wise) forward and backward work, metrics and input.

Usage:
    python -m bench.whole_fit [--epochs 1 3 10] [--rounds 2] [--quick]

Prints a table and writes bench/results/whole_fit.json.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.output import machine, write_json  # noqa: E402
from bench.run import _have_torch, run_job  # noqa: E402

ROWS = {
    "kvae defaults": {"impl": "kvae"},
    "kvae keras Adam": {"impl": "kvae", "optimizer": "keras"},
    "kvae mixed_bfloat16": {"impl": "kvae", "dtype_policy": "mixed_bfloat16"},
    "pytorch fp32": {"impl": "pytorch"},
    "pytorch bf16": {"impl": "pytorch", "bfloat16": True},
}
REFERENCES = ("pytorch fp32", "pytorch bf16")


def summarise(results, examples, epochs):
    """One row's medians over its rounds."""
    fit = [examples * epochs / r["fit_seconds"] for r in results]
    row = {
        "whole_fit_samples_per_s": float(np.median(fit)),
        "whole_fit_samples_per_s_rounds": fit,
        "first_step_seconds": float(np.median([r["first_step_seconds"] for r in results])),
        "fit_seconds": float(np.median([r["fit_seconds"] for r in results])),
        "test_neg_elbo": float(np.median([r["test_neg_elbo"] for r in results])),
    }
    if epochs > 1:
        steady = [examples / min(r["epoch_seconds"][1:]) for r in results]
        row["steady_epoch_samples_per_s"] = float(np.median(steady))
        row["overhead_seconds"] = float(np.median(
            [r["fit_seconds"] - epochs * min(r["epoch_seconds"][1:]) for r in results]))
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, nargs="+", default=[1, 3, 10])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="CI smoke budget: 1,024 examples, every job here")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "whole_fit.json"))
    args = parser.parse_args(argv)
    data = {"data_dir": args.data_dir}
    if args.quick:
        args.epochs, args.rounds = [1, 2], 1
        data.update(train_examples=1024, test_examples=256)
    examples = data.get("train_examples") or 60000
    rows = dict(ROWS)
    if not _have_torch():
        print("PyTorch is not installed: kvae rows only (pip install torch==2.13.0 for the references).")
        rows = {name: row for name, row in rows.items() if row["impl"] != "pytorch"}

    runs = {epochs: {name: [] for name in rows} for epochs in args.epochs}
    for round_ in range(args.rounds):
        for epochs in args.epochs:
            names = list(rows)
            shift = (round_ + epochs) % len(names)
            for name in names[shift:] + names[:shift]:
                result = run_job("whole_fit", {**data, **rows[name], "seed": round_, "epochs": epochs},
                                 in_process=args.quick)
                runs[epochs][name].append(result)
                print(f"  {name:<20} {epochs:>2} epochs, round {round_}: fit {result['fit_seconds']:6.2f} s, "
                      f"first call {result['first_step_seconds']:.2f} s, test -ELBO {result['test_neg_elbo']:.2f}",
                      flush=True)

    # Where a step's time goes, with each optimizer: what the fused default bought, op by op.
    profiles = {name: run_job("profile", {**data, "steps": 8 if args.quick else 96, "fused_adam": fused},
                              in_process=args.quick)
                for name, fused in (("kvae defaults", True), ("kvae keras Adam", False))}
    summary = {str(epochs): {name: summarise(results, examples, epochs) for name, results in by_row.items()}
               for epochs, by_row in runs.items()}
    for by_row in summary.values():
        for name, row in by_row.items():
            for ref in REFERENCES:
                if ref in by_row and not name.startswith("pytorch"):
                    for key in ("whole_fit_samples_per_s", "steady_epoch_samples_per_s"):
                        if key in row:
                            row[f"{key}_vs_{ref}"] = row[key] / by_row[ref][key]
    _print_table(summary)
    _print_profiles(profiles)
    return write_json(args.out, {
        "command": "python -m bench.whole_fit " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "setup": {"model": "784-400-20 MLP, ReLU, Bernoulli", "batch_size": 128, "examples": examples,
                  "epochs": args.epochs, "rounds": args.rounds, "input": "fit(x_numpy, batch_size=128)"},
        "summary": summary,
        "profiles": profiles,
        "runs": {str(e): r for e, r in runs.items()},
    })


def readme_table(saved):
    """The README's table of this benchmark, rendered from its JSON (a test checks the README holds it)."""
    lines = ["| row | epochs | whole fit ex/s | vs PyTorch fp32 | vs PyTorch bf16 | steady epoch ex/s | "
             "vs PyTorch fp32 | vs PyTorch bf16 | first call s | test −ELBO |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]

    def ratio(row, key, ref):
        value = row.get(f"{key}_vs_{ref}")
        return "" if value is None else f"{value:.2f}×"

    for epochs in sorted(saved["summary"], key=int):  # the JSON's keys are sorted as text
        by_row = saved["summary"][epochs]
        for name in [n for n in ROWS if n in by_row]:
            row = by_row[name]
            steady = row.get("steady_epoch_samples_per_s")
            lines.append(
                f"| {name} | {epochs} | {row['whole_fit_samples_per_s']:,.0f} | "
                f"{ratio(row, 'whole_fit_samples_per_s', 'pytorch fp32')} | "
                f"{ratio(row, 'whole_fit_samples_per_s', 'pytorch bf16')} | "
                f"{'' if steady is None else f'{steady:,.0f}'} | "
                f"{ratio(row, 'steady_epoch_samples_per_s', 'pytorch fp32')} | "
                f"{ratio(row, 'steady_epoch_samples_per_s', 'pytorch bf16')} | "
                f"{row['first_step_seconds']:.2f} | {row['test_neg_elbo']:.2f} |")
    return "\n".join(lines) + "\n"


def _print_profiles(profiles):
    groups = sorted({g for p in profiles.values() for g in p["op_us_per_step"]})
    print("\nper training step (a tf.profiler trace; op time summed over TensorFlow's threads):")
    print(f"{'':<22}" + "".join(f"{name:>18}" for name in profiles))
    print(f"{'ops per step':<22}" + "".join(f"{p['ops_per_step']:>18.0f}" for p in profiles.values()))
    for group in groups:
        print(f"{group + ' µs':<22}" + "".join(f"{p['op_us_per_step'].get(group, 0):>18.0f}" for p in profiles.values()))
    print(f"{'tf.data µs':<22}" + "".join(f"{p['tf_data_us_per_step']:>18.0f}" for p in profiles.values()))
    print(f"{'wall ms (profiling)':<22}" + "".join(f"{p['wall_ms_per_step_while_profiling']:>18.2f}"
                                                  for p in profiles.values()))


def _print_table(summary):
    print(f"\n{'row':<20} {'epochs':>6} {'whole fit ex/s':>15} {'vs fp32':>8} {'vs bf16':>8} {'steady ex/s':>12} "
          f"{'vs fp32':>8} {'vs bf16':>8} {'first call s':>13} {'overhead s':>11} {'test -ELBO':>11}")
    for epochs, by_row in summary.items():
        for name, row in by_row.items():
            def ratio(key, ref):
                value = row.get(f"{key}_vs_{ref}")
                return f"{value:7.2f}x" if value is not None else f"{'':>8}"

            steady = row.get("steady_epoch_samples_per_s")
            overhead = row.get("overhead_seconds")
            print(f"{name:<20} {epochs:>6} {row['whole_fit_samples_per_s']:15,.0f} "
                  f"{ratio('whole_fit_samples_per_s', 'pytorch fp32')} {ratio('whole_fit_samples_per_s', 'pytorch bf16')} "
                  f"{(f'{steady:12,.0f}' if steady else f'{chr(32) * 12}')} "
                  f"{ratio('steady_epoch_samples_per_s', 'pytorch fp32')} {ratio('steady_epoch_samples_per_s', 'pytorch bf16')} "
                  f"{row['first_step_seconds']:13.2f} {(f'{overhead:11.2f}' if overhead is not None else ' ' * 11)} "
                  f"{row['test_neg_elbo']:11.2f}")


if __name__ == "__main__":
    main()
