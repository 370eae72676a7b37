"""Is this checkout slower than another commit? kvae's default `fit`, the two alternating.

Checks out --base (a git revision) into a temporary worktree and runs `bench.worker kvae` (the
README's `fit` of the 784-400-20 MLP VAE on Fashion-MNIST, one fresh process per run) from it and from
this checkout in alternation, --runs times each, on a `make_dataset` pipeline or (`--input numpy`)
plain `fit(x, batch_size=128)` on NumPy arrays. `--model vamp` times the family bench's VampPrior
(K = 500 pseudo-inputs, `bench.family_models.train_kvae`) instead, `--model iwae` its IWAE (k = 5). A run's throughput is its fastest epoch after the
first; the table shows the median per side and their ratio, and the test −ELBO (which the same maths
and seeds keep equal to the last digit).

Usage:
    python -m bench.regression --base HEAD~3 [--runs 4] [--epochs 4] [--model vae|vamp|iwae] [--input dataset|numpy]

Prints a table and writes bench/results/regression.json.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `python bench/regression.py` as well as `python -m bench.regression`

from bench import output  # noqa: E402


# What `--model` times: the code run in a fresh process from each checkout, and its result's prefix.
_FAMILY = ("import json, sys; from bench import family_models as m; "
         "print('BENCH_RESULT ' + json.dumps(m.train_kvae(json.loads(sys.argv[1]))))")


def _fit(root, epochs, seed, examples, model="vae", data_input="dataset"):
    env = dict(os.environ, PYTHONPATH=str(root), TF_CPP_MIN_LOG_LEVEL="2")
    args = {"seed": seed, "epochs": epochs, "train_examples": examples, "input": data_input}
    if model == "vae":
        command = [sys.executable, "-m", "bench.worker", "kvae", json.dumps(args)]
    else:
        scores = Path(tempfile.mkdtemp()) / "per_example.npz"
        model_args = {"prior": "vamp", "components": 500, "objective": "elbo"} if model == "vamp" else \
            {"prior": "normal", "objective": "iwae", "k": 5}
        args.update(model_args, test_examples=1000, iw_samples=10, per_example=str(scores))
        command = [sys.executable, "-c", _FAMILY, json.dumps(args)]
    proc = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=3600)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            result = json.loads(line[len("BENCH_RESULT "):])
            seconds = min(result["epoch_seconds"][1:] or result["epoch_seconds"])
            return {"samples_per_s": (examples or 60000) / seconds, "test_neg_elbo": result["test_neg_elbo"]}
    raise RuntimeError(f"bench.worker in {root} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", required=True, help="the git revision to compare against")
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-examples", type=int, default=None)
    parser.add_argument("--model", choices=("vae", "vamp", "iwae"), default="vae")
    parser.add_argument("--input", choices=("dataset", "numpy"), default="dataset",
                        help="the VAE's data: fit(make_dataset(...)) or fit(x, batch_size=128) on NumPy arrays")
    parser.add_argument("--out", default=None,
                        help="default: bench/results/regression.json (regression_numpy.json, regression_vamp.json)")
    args = parser.parse_args(argv)
    if args.out is None:
        name = f"regression_{args.model}" if args.model != "vae" else "regression" + ("_numpy" if args.input == "numpy" else "")
        args.out = str(ROOT / "bench" / "results" / f"{name}.json")
    base_commit = subprocess.run(["git", "rev-parse", args.base], cwd=ROOT, capture_output=True, text=True,
                                 check=True).stdout.strip()
    runs = {"base": [], "this": []}
    with tempfile.TemporaryDirectory() as tmp:
        worktree = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(worktree), base_commit], cwd=ROOT,
                       capture_output=True, check=True)
        try:
            for i in range(args.runs):
                order = (("base", worktree), ("this", ROOT)) if i % 2 == 0 else (("this", ROOT), ("base", worktree))
                for side, root in order:
                    result = _fit(root, args.epochs, args.seed, args.train_examples, args.model, args.input)
                    runs[side].append(result)
                    print(f"  {side:<5} run {i}: {result['samples_per_s']:>8.0f} examples/s, "
                          f"test -ELBO {result['test_neg_elbo']:.3f}", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, capture_output=True)
    median = {side: statistics.median(r["samples_per_s"] for r in rows) for side, rows in runs.items()}
    ratio = median["this"] / median["base"]
    what = {"vamp": "kvae VampPrior (K = 500) fit", "iwae": "kvae IWAE (k = 5) fit"}.get(
        args.model, f"kvae default fit on {args.input} input")
    print(f"\n{what}, {args.runs} alternated runs each: base {args.base} ({base_commit[:8]}) "
          f"{median['base']:.0f} examples/s, this checkout {median['this']:.0f}: {ratio:.2f}×")
    return output.write_json(args.out, {
        "command": "python -m bench.regression " + " ".join(sys.argv[1:] if argv is None else argv),
        "config": vars(args), "base_commit": base_commit, "machine": output.machine(),
        "runs": runs, "median_samples_per_s": median, "ratio_this_to_base": ratio,
    })


if __name__ == "__main__":
    main()
