"""The VAE family against pythae on Fashion-MNIST: IS-NLL, −ELBO and training speed, paired.

kvae's conditional VAE (IS-NLL of log p(x|y) given the true label; a classifier trained on the real
images checks that samples made for class c look like c) is compared with kvae's VAE.
kvae's VAE, IWAE (k = 5 and 50), Gaussian-mixture prior (10 components), VampPrior (K = 500) and IAF
posterior (2 steps, MADEs of 3 × 128; kvae's encoder also emits a 32-unit context h for the steps,
pythae's flow has none) against pythae 0.1.2's own `VAE`, `IWAE`, `VAMP` and `VAE_IAF` classes with the
same networks: 784-400-20 MLP,
Bernoulli decoder on grey levels, Adam 1e-3, batch 128, --epochs epochs, one seed. Each model trains
in a fresh process, kvae and pythae alternating. Every model is scored on the same first
--test-examples test images (IS-NLL with K = --iw-samples, −ELBO from one sample), so differences
between two models are paired: their standard errors are those of the per-image differences.
Throughput is training examples per second in the median epoch after the first (warm-up).
The pythae rows are skipped, with a message, when pythae (and PyTorch) are not installed.

Usage:
    python bench/family.py [--epochs 10] [--test-examples 10000] [--iw-samples 1000] [--quick]

Prints a table and writes bench/results/family.json.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `python bench/...py` as well as `python -m bench...`

from bench import output  # noqa: E402

RESULTS = ROOT / "bench" / "results"

# pythae's VAE_IAF defaults, for both sides: 2 flow steps, each a MADE of 3 hidden layers of 128.
IAF_SHAPE = {"iaf_steps": 2, "made_layers": 3, "made_hidden": 128}
# name: (side, options). The pythae counterpart of each kvae model shares its name after the side.
MODELS = {
    "kvae VAE": ("kvae", {"prior": "normal", "objective": "elbo"}),
    "pythae VAE": ("pythae", {"model": "VAE"}),
    "kvae IWAE k=5": ("kvae", {"prior": "normal", "objective": "iwae", "k": 5}),
    "pythae IWAE k=5": ("pythae", {"model": "IWAE", "k": 5}),
    "kvae IWAE k=50": ("kvae", {"prior": "normal", "objective": "iwae", "k": 50}),
    "pythae IWAE k=50": ("pythae", {"model": "IWAE", "k": 50}),
    "kvae VampPrior": ("kvae", {"prior": "vamp", "objective": "elbo", "components": 500}),
    "pythae VAMP": ("pythae", {"model": "VAMP", "components": 500}),
    "kvae mixture prior": ("kvae", {"prior": "mixture", "objective": "elbo", "components": 10}),
    "kvae IAF": ("kvae", {"prior": "normal", "objective": "elbo", "posterior": "iaf", **IAF_SHAPE}),
    "pythae IAF": ("pythae", {"model": "VAE_IAF", **IAF_SHAPE}),
    "kvae conditional VAE": ("kvae", {"prior": "normal", "objective": "elbo", "conditional": True}),
}
PAIRS = {"VAE": ("kvae VAE", "pythae VAE"), "IWAE k=5": ("kvae IWAE k=5", "pythae IWAE k=5"),
         "IWAE k=50": ("kvae IWAE k=50", "pythae IWAE k=50"), "VampPrior": ("kvae VampPrior", "pythae VAMP"),
         "IAF": ("kvae IAF", "pythae IAF")}
# Published orderings (IS-NLL, lower is better): (better, worse).
ORDERINGS = [("kvae IWAE k=50", "kvae IWAE k=5"), ("kvae IWAE k=5", "kvae VAE"), ("kvae VampPrior", "kvae VAE"),
             ("kvae IAF", "kvae VAE"), ("kvae conditional VAE", "kvae VAE")]
# A classifier trained on the real images must label this share of the samples made for class c as c.
CONDITIONAL_ACCURACY_TARGET = 0.8
TARGETS = {"nll_margin_nats": 0.3, "throughput_ratio": 1.5, "generated_class_accuracy": CONDITIONAL_ACCURACY_TARGET}


def _have_pythae():
    try:
        import pythae  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _run(side, options, timeout, in_process=False):
    """`family_models.train_SIDE(options)` in a fresh process, or here with `in_process` (the
    `--quick` smoke budget: a TensorFlow start-up less per model; its timings mean nothing)."""
    if in_process:
        from bench import family_models

        return json.loads(json.dumps(getattr(family_models, f"train_{side}")(options)))
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    code = (f"import json, sys; from bench import family_models as m; "
            f"print('FAMILY_RESULT ' + json.dumps(m.train_{side}(json.loads(sys.argv[1]))))")
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(options)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    for line in proc.stdout.splitlines():
        if line.startswith("FAMILY_RESULT "):
            return json.loads(line[len("FAMILY_RESULT "):])
    raise RuntimeError(f"{side} {options} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")


def _paired(a, b):
    diff = a - b
    return {"difference": float(diff.mean()),
            "stderr": float(diff.std(ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else 0.0}


def main(argv=None):
    command = "python bench/family.py " + " ".join(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--train-examples", type=int, default=None)
    parser.add_argument("--test-examples", type=int, default=10000)
    parser.add_argument("--iw-samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--quick", action="store_true", help="smoke budget: 2 epochs on 512 examples, small k and K")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=str(RESULTS / "family.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.train_examples, args.test_examples, args.iw_samples = 2, 512, 50, 20

    have_pythae = _have_pythae()
    if not have_pythae:
        print("pythae (or PyTorch) is not installed: the pythae rows are skipped "
              "(pip install torch==2.13.0 pythae==0.1.2 to run them)")
    runs, per_example = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            side, options = MODELS[name]
            if side == "pythae" and not have_pythae:
                continue
            options = dict(options, seed=args.seed, epochs=args.epochs, train_examples=args.train_examples,
                           test_examples=args.test_examples, iw_samples=args.iw_samples, data_dir=args.data_dir,
                           per_example=os.path.join(tmp, f"{len(runs)}.npz"))
            if args.quick:
                options.update({k: min(v, 3) for k, v in options.items() if k in ("k", "components")})
            result = _run(side, options, timeout=6 * 3600, in_process=args.quick)
            seconds = result["epoch_seconds"][1:] or result["epoch_seconds"]
            examples = args.train_examples or 60000
            keys = ("prior", "posterior", "objective", "model", "k", "components", "conditional", *IAF_SHAPE)
            result.update(side=side, options={k: options[k] for k in keys if k in options},
                          median_epoch_seconds=float(np.median(seconds)),
                          samples_per_s=examples / float(np.median(seconds)))
            per_example[name] = dict(np.load(options["per_example"]))
            runs[name] = result
            print(f"  {name:<20} {result['samples_per_s']:>8.0f} examples/s  IS-NLL {result['test_nll']:.2f}  "
                  f"-ELBO {result['test_neg_elbo']:.2f}", flush=True)

    comparisons = {}
    for label, (ours, theirs) in PAIRS.items():
        if ours in runs and theirs in runs:
            nll = _paired(per_example[ours]["nll"], per_example[theirs]["nll"])
            ratio = runs[ours]["samples_per_s"] / runs[theirs]["samples_per_s"]
            comparisons[label] = {
                "nll_kvae_minus_pythae": nll, "throughput_ratio": ratio,
                "nll_target_met": nll["difference"] <= TARGETS["nll_margin_nats"],
                "throughput_target_met": ratio >= TARGETS["throughput_ratio"],
            }
    orderings = []
    for better, worse in ORDERINGS:
        if better in runs and worse in runs:
            d = _paired(per_example[better]["nll"], per_example[worse]["nll"])
            orderings.append({"better": better, "worse": worse, **d,
                              "holds_beyond_noise": d["difference"] + 2 * d["stderr"] < 0})

    print(f"\nFashion-MNIST grey levels, 784-400-20 MLP, {args.epochs} epochs, batch 128, Adam 1e-3, seed {args.seed}; "
          f"IS-NLL K={args.iw_samples} on {args.test_examples} test images")
    meanings = sorted({r["nll_meaning"] for r in runs.values() if "nll_meaning" in r})  # kvae's rows say
    for meaning in meanings:  # every row has the same Bernoulli likelihood on the same data
        print(f"The NLLs are {meaning}.")
    print(f"{'model':<20}{'IS-NLL':>16}{'-ELBO':>16}{'examples/s':>12}{'s/epoch':>9}")
    for name, r in runs.items():
        print(f"{name:<20}{r['test_nll']:>9.2f} ± {r['test_nll_stderr']:<4.2f}{r['test_neg_elbo']:>9.2f} ± "
              f"{r['test_neg_elbo_stderr']:<4.2f}{r['samples_per_s']:>12.0f}{r['median_epoch_seconds']:>9.1f}")
    for label, c in comparisons.items():
        d = c["nll_kvae_minus_pythae"]
        print(f"{label:<12} kvae − pythae IS-NLL {d['difference']:+.2f} ± {d['stderr']:.2f} nats "
              f"(target ≤ +{TARGETS['nll_margin_nats']}: {'met' if c['nll_target_met'] else 'MISSED'}); "
              f"speed {c['throughput_ratio']:.2f}× (target ≥ {TARGETS['throughput_ratio']}×: "
              f"{'met' if c['throughput_target_met'] else 'MISSED'})")
    for o in orderings:
        print(f"{o['better']} − {o['worse']}: {o['difference']:+.2f} ± {o['stderr']:.2f} nats "
              f"({'holds' if o['holds_beyond_noise'] else 'does NOT hold'} beyond 2 SE)")
    for name, r in runs.items():
        if "generated_class_accuracy" in r:
            g = r["generated_class_accuracy"]
            r["generated_class_accuracy"]["target_met"] = g["accuracy"] >= CONDITIONAL_ACCURACY_TARGET
            print(f"{name}: a classifier ({g['classifier_test_accuracy']:.1%} on real test images) labels "
                  f"{g['accuracy']:.1%} of the samples generated for class c as c (target ≥ "
                  f"{CONDITIONAL_ACCURACY_TARGET:.0%}: {'met' if g['target_met'] else 'MISSED'}); worst class "
                  f"{min(g['by_class']):.0%}")
    payload = {
        "command": command.strip(),
        "config": vars(args),
        "machine": output.machine(),
        "targets": TARGETS,
        "runs": runs,
        "comparisons": comparisons,
        "orderings": orderings,
        "pythae": have_pythae,
        "nll_meaning": meanings,
    }
    return output.write_json(args.out, payload)


def readme_tables(saved):
    """The README's tables of one run of this benchmark, rendered from its JSON (a test checks the README holds them)."""
    runs = saved["runs"]
    lines = ["| model | IS-NLL (K=1000, nats) | test −ELBO (nats) | examples/s | s/epoch |",
             "| --- | --- | --- | --- | --- |"]
    for name in [n for n in MODELS if n in runs]:
        r = runs[name]
        lines.append(f"| {name} | {r['test_nll']:.2f} ± {r['test_nll_stderr']:.2f} | {r['test_neg_elbo']:.2f} ± "
                     f"{r['test_neg_elbo_stderr']:.2f} | {r['samples_per_s']:,.0f} | {r['median_epoch_seconds']:.1f} |")
    tables = ["\n".join(lines)]
    met = lambda ok: "met" if ok else "**missed**"  # noqa: E731
    if saved["comparisons"]:
        lines = [f"| kvae vs pythae | IS-NLL kvae − pythae (paired) | target ≤ +{saved['targets']['nll_margin_nats']} "
                 f"| speed | target ≥ {saved['targets']['throughput_ratio']}× |", "| --- | --- | --- | --- | --- |"]
        for label in [p for p in PAIRS if p in saved["comparisons"]]:
            c = saved["comparisons"][label]
            d = c["nll_kvae_minus_pythae"]
            lines.append(f"| {label} | {d['difference']:+.2f} ± {d['stderr']:.2f} | {met(c['nll_target_met'])} | "
                         f"{c['throughput_ratio']:.2f}× | {met(c['throughput_target_met'])} |")
        tables.append("\n".join(lines))
    if saved["orderings"]:
        lines = ["| ordering (IS-NLL) | difference (paired) | beyond 2 SE |", "| --- | --- | --- |"]
        for o in saved["orderings"]:
            lines.append(f"| {o['better']} < {o['worse']} | {o['difference']:+.2f} ± {o['stderr']:.2f} | "
                         f"{'yes' if o['holds_beyond_noise'] else '**no**'} |")
        tables.append("\n".join(lines))
    for name, r in runs.items():
        g = r.get("generated_class_accuracy")
        if g:
            tables.append("\n".join([
                "| generated samples (classifier trained on real images) | share labelled with their class | target |",
                "| --- | --- | --- |",
                f"| {name}, {g['samples_per_class']} per class (classifier: {g['classifier_test_accuracy']:.1%} on "
                f"real test images) | {g['accuracy']:.1%} (worst class {min(g['by_class']):.0%}) | "
                f"≥ {saved['targets']['generated_class_accuracy']:.0%}: {met(g['target_met'])} |"]))
    return "\n\n".join(tables) + "\n"


if __name__ == "__main__":
    main()
