"""kvae's performance suite: `python -m bench` (or `python bench/run.py`).

On Fashion-MNIST (784-400-20 MLP VAE, ReLU, Bernoulli decoder on grey levels, Adam 1e-3, batch 128)
it trains, in alternation and each in a fresh process:

- kvae: `build_vae` + `compile(optimizer=keras.optimizers.Adam(1e-3))` + `fit` on `make_dataset`,
  as the README shows (kvae's default `steps_per_execution="auto"`, 32 here), and with Keras' default
  of one step per call (`steps_per_execution=1`) to show what the default buys;
- the classic PyTorch example (skipped, with a message, when torch is not installed);
- the keras.io example's pattern (custom `train_step`, no tfp, plain `compile`);

for --epochs epochs per --seeds seed. The first epoch is warm-up (tracing, caches); a run's
throughput is training examples per second in its fastest remaining epoch (on a shared machine
noise only ever adds time; the mean over epochs is kept in the JSON too), the table shows the
median over seeds, and test −ELBO is measured after the last epoch. It
also measures this machine's fp32 matmul peak (the roofline) and reports the fraction each
implementation reaches given the model's matmul FLOPs per training example, the peak RSS of every
run, `log_likelihood` with K samples over the test set (time and peak RSS), the p50 latency of an
exported model's `encode` at batch 1, how kvae's throughput scales with batch size, latent size,
hidden width and data-set size, and a `tf.profiler` trace of kvae's step reduced to an op-level
breakdown (bench/op_profile.py).

Usage:
    python -m bench [--epochs 4] [--seeds 0 1 2] [--quick] [--out bench/results/performance.json]

`--quick` is the CI smoke budget (a few thousand examples, one seed, small sweeps, every job in this
process: it checks that each section runs, not how fast); `--only NAME ...` runs some rows only.
"""

import argparse
import functools
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
IMPLEMENTATIONS = {
    "kvae": ("kvae", {}),
    "kvae fit(numpy)": ("kvae", {"input": "numpy"}),
    "kvae bf16": ("kvae", {"input": "numpy", "dtype_policy": "mixed_bfloat16"}),
    "kvae KLWarmup": ("kvae", {"kl_warmup": True}),
    "kvae spe=1": ("kvae", {"steps_per_execution": 1}),
    "pytorch fast": ("reference", {"impl": "pytorch", "fast": True}),
    "pytorch fast bf16": ("reference", {"impl": "pytorch", "fast": True, "bfloat16": True}),
    "pytorch": ("reference", {"impl": "pytorch"}),
    "keras.io": ("reference", {"impl": "keras_io"}),
}
TORCH_ROWS = ("pytorch fast", "pytorch fast bf16", "pytorch")
# Peak RSS of kvae's default fit before NumPy input and mixed precision (README, stop 10).
PREVIOUS_PEAK_RSS_MIB = 1395
SWEEPS = {
    "batch_size": [32, 64, 128, 256, 512, 1024],
    "latent_dim": [2, 8, 32, 128, 256],
    "hidden": [100, 200, 400, 800, 1600],
    "examples": [7500, 15000, 30000, 60000],
}


def run_job(job, args, timeout=1200, in_process=False):
    """Runs `python -m bench.worker JOB ARGS` and returns its JSON result.

    `in_process=True` (the `--quick` smoke budget) runs the job in this
    process instead, saving a TensorFlow start-up per job: its numbers check
    that every section runs, not how fast (thread pools are shared and peak
    RSS is the whole run's).
    """
    if in_process:
        import keras

        from bench import worker

        policy = keras.config.dtype_policy()  # a job may set the global one (`dtype_policy`): not past its end
        try:
            result = worker.JOBS[job](args)
        finally:
            keras.config.set_dtype_policy(policy)
        result["peak_rss_mib"] = worker.peak_rss_mib()
        return json.loads(json.dumps(result))
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    proc = subprocess.run([sys.executable, "-m", "bench.worker", job, json.dumps(args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            return json.loads(line[len("BENCH_RESULT "):])
    raise RuntimeError(f"bench job {job} {args} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")


def _have_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run; the first is warm-up")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true", help="CI smoke budget")
    parser.add_argument("--only", nargs="+", choices=list(IMPLEMENTATIONS), default=None, metavar="NAME",
                        help="run only these implementations (targets needing the others are left out)")
    parser.add_argument("--iw-samples", type=int, default=1000, help="K for the log_likelihood memory check")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "performance.json"))
    args = parser.parse_args(argv)
    if args.only and "kvae" not in args.only:
        parser.error("--only must include \"kvae\", the row the others are compared with")
    data = {"data_dir": args.data_dir}
    run = functools.partial(run_job, in_process=args.quick)  # the smoke budget saves a TF start-up per job
    if args.quick:
        args.epochs, args.seeds = 2, [0]
        data.update(train_examples=2048, test_examples=512)
        sweeps = {"batch_size": [64, 256], "examples": [1024, 2048]}
        ll_args, latency_calls = {"num_samples": 10, "test_examples": 64}, 20
    else:
        sweeps = SWEEPS
        ll_args, latency_calls = {"num_samples": args.iw_samples, "test_examples": 10000}, 500

    from bench.references import VAE_LAYERS, training_flops_per_example

    implementations = {name: IMPLEMENTATIONS[name] for name in (args.only or IMPLEMENTATIONS)}
    if not _have_torch():
        print("PyTorch is not installed: skipping the PyTorch references (pip install torch to include them).")
        for name in TORCH_ROWS:
            implementations.pop(name, None)
    roofline = run("roofline", {"repeats": 2 if args.quick else 5})
    roofline_bf16 = run("roofline", {"repeats": 2 if args.quick else 5, "dtype": "bfloat16"})
    print(f"matmul peak: {roofline['peak_gflops']:.1f} GFLOP/s float32, {roofline_bf16['peak_gflops']:.1f} "
          f"GFLOP/s bfloat16 ({roofline['size']}² matmul in a tf.function)")

    runs = {name: [] for name in implementations}
    for i, seed in enumerate(args.seeds):
        names = list(implementations)
        names = names[i % len(names):] + names[: i % len(names)]  # rotate so no one always goes first
        for name in names:
            job, extra = implementations[name]
            result = run(job, {**data, **extra, "seed": seed, "epochs": args.epochs})
            timed = result["epoch_seconds"][1:] or result["epoch_seconds"]
            examples = data.get("train_examples") or 60000
            # The fastest timed epoch: noise on a shared machine only adds time (as `timeit` advises).
            result["samples_per_s"] = examples / min(timed)
            result["samples_per_s_mean_epoch"] = examples * len(timed) / sum(timed)
            runs[name].append(result)
            print(f"  {name:<12} seed {seed}: {result['samples_per_s']:8.0f} examples/s, "
                  f"test -ELBO {result['test_neg_elbo']:.2f}, peak RSS {result['peak_rss_mib']:.0f} MiB", flush=True)

    flops = training_flops_per_example(VAE_LAYERS)
    summary = {}
    for name, results in runs.items():
        speed = np.array([r["samples_per_s"] for r in results])
        elbo = np.array([r["test_neg_elbo"] for r in results])
        summary[name] = {
            "samples_per_s_median": float(np.median(speed)),
            "samples_per_s": speed.tolist(),
            "samples_per_s_mean_epoch_median": float(np.median([r["samples_per_s_mean_epoch"] for r in results])),
            "test_neg_elbo_mean": float(elbo.mean()),
            "test_neg_elbo_std": float(elbo.std()),
            "roofline_fraction": float(np.median(speed) * flops / (roofline["peak_gflops"] * 1e9)),
            "roofline_fraction_bf16": float(np.median(speed) * flops / (roofline_bf16["peak_gflops"] * 1e9)),
            "peak_rss_mib": float(max(r["peak_rss_mib"] for r in results)),
        }
    for name in summary:
        for ref in ("pytorch fast", "pytorch fast bf16", "pytorch", "keras.io"):
            if ref in summary and name != ref:
                summary[name][f"ratio_to_{ref}"] = summary[name]["samples_per_s_median"] / summary[ref]["samples_per_s_median"]

    matmuls = run("shape_matmuls", {"repeats": 2 if args.quick else 5})["rows"]
    log_likelihood = run("log_likelihood", {**data, **ll_args})
    latency = run("encode_latency", {"calls": latency_calls})
    scaling = {axis: run("scaling", {**data, "axis": axis, "values": values})["rows"]
               for axis, values in sweeps.items()}
    profile = run("profile", {**data, "steps": 32 if args.quick else 96})

    _print_table(summary, args, flops, roofline)
    print(f"\nlog_likelihood, K={log_likelihood['num_samples']} over {log_likelihood['examples']} test examples: "
          f"{log_likelihood['seconds']:.1f} s, peak RSS {log_likelihood['peak_rss_mib']:.0f} MiB")
    print(f"exported encode at batch 1: p50 {latency['p50_ms']:.3f} ms, p99 {latency['p99_ms']:.3f} ms")
    for axis, rows in scaling.items():
        print(f"\nkvae (defaults) vs {axis}:")
        for row in rows:
            print(f"  {axis}={row[axis]:<6} {row['samples_per_s']:9.0f} examples/s  epoch {row['epoch_seconds']:6.2f} s  "
                  f"peak RSS so far {row['peak_rss_mib_so_far']:.0f} MiB")

    print("\nthe model's own matmuls (batch 128, in a tf.function):")
    for row in matmuls:
        print(f"  {row['group']:<18}{row['dtype']:<10}{row['ms']:7.3f} ms {row['gflops']:7.0f} GFLOP/s")
    _print_profile(profile)

    payload = {
        "command": "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": sys.version.split()[0],
                    "matmul_peak_gflops": roofline["peak_gflops"],
                    "matmul_peak_gflops_bf16": roofline_bf16["peak_gflops"]},
        "setup": {"epochs": args.epochs, "warmup_epochs": 1, "seeds": args.seeds, "batch_size": 128,
                  "model": "784-400-20 MLP, ReLU, Bernoulli", "training_flops_per_example": flops, **data},
        "implementations": summary,
        "runs": runs,
        "shape_matmuls": matmuls,
        "log_likelihood": log_likelihood,
        "encode_latency": latency,
        "scaling": scaling,
        "profile": profile,
        "targets": _targets(summary, log_likelihood, latency),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return payload


def _targets(summary, log_likelihood, latency):
    """Each target whose rows were run (all of them unless `--only`)."""
    kvae = summary["kvae"]  # the defaults, as a user gets them
    targets = {
        "encode_p50_at_most_1ms": latency["p50_ms"] <= 1.0,
        "log_likelihood_under_2GiB": log_likelihood["peak_rss_mib"] < 2048,
    }

    def have(*names):
        return all(name in summary for name in names)

    if have("kvae KLWarmup"):
        targets["kl_warmup_costs_at_most_10pct"] = (
            summary["kvae KLWarmup"]["samples_per_s_median"] >= 0.9 * kvae["samples_per_s_median"])
    if have("kvae bf16"):
        targets["bf16_neg_elbo_within_1_nat_of_float32"] = abs(
            summary["kvae bf16"]["test_neg_elbo_mean"] - kvae["test_neg_elbo_mean"]) <= 1.0
    if have("kvae fit(numpy)"):
        targets["peak_rss_not_above_before"] = max(
            kvae["peak_rss_mib"], summary["kvae fit(numpy)"]["peak_rss_mib"]) <= PREVIOUS_PEAK_RSS_MIB * 1.02
    fast = "ratio_to_pytorch fast"
    if have("pytorch fast"):
        targets["dataset_at_least_1.5x_pytorch_fast"] = kvae[fast] >= 1.5
        targets["neg_elbo_within_0.5_nats_of_pytorch_fast"] = abs(
            kvae["test_neg_elbo_mean"] - summary["pytorch fast"]["test_neg_elbo_mean"]) <= 0.5
    if have("pytorch fast", "kvae fit(numpy)"):
        targets["numpy_at_least_1.5x_pytorch_fast"] = summary["kvae fit(numpy)"][fast] >= 1.5
    if have("pytorch fast", "kvae bf16"):
        targets["bf16_at_least_2.5x_pytorch_fast_fp32"] = summary["kvae bf16"][fast] >= 2.5
    if have("pytorch fast bf16", "kvae bf16"):
        targets["bf16_at_least_2x_pytorch_bf16"] = summary["kvae bf16"]["ratio_to_pytorch fast bf16"] >= 2.0
    return targets


def _print_profile(profile):
    print(f"\nprofile of kvae's step ({profile['steps']} steps, {profile['steps_per_execution']} per call, "
          f"{profile['wall_ms_per_step_while_profiling']:.2f} ms/step while tracing; op time summed over "
          f"threads, {profile['ops_per_step']:.0f} ops/step):")
    for group, us in profile["op_us_per_step"].items():
        print(f"  {group:<20}{us:8.0f} µs/step")
    print(f"  {'tf.data (producer)':<20}{profile['tf_data_us_per_step']:8.0f} µs/step")


def _print_table(summary, args, flops, roofline):
    print(f"\nFashion-MNIST, 784-400-20 VAE, batch 128, {args.epochs} epochs (first is warm-up), seeds {args.seeds}; "
          f"{flops / 1e6:.2f} MFLOP per training example; matmul peak {roofline['peak_gflops']:.0f} GFLOP/s")
    header = (f"{'implementation':<19}{'examples/s':>11}{'vs torch fast':>14}{'vs torch bf16':>14}{'vs keras.io':>12}"
              f"{'fp32 peak':>10}{'bf16 peak':>10}{'test -ELBO':>18}{'peak RSS':>10}")
    print(header)
    for name, s in summary.items():
        ratios = [f"{s[key]:.2f}×" if key in s else "-" for key in
                  ("ratio_to_pytorch fast", "ratio_to_pytorch fast bf16", "ratio_to_keras.io")]
        print(f"{name:<19}{s['samples_per_s_median']:>11.0f}{ratios[0]:>14}{ratios[1]:>14}{ratios[2]:>12}"
              f"{s['roofline_fraction']:>9.0%} {s['roofline_fraction_bf16']:>9.0%} "
              f"{s['test_neg_elbo_mean']:>10.2f} ± {s['test_neg_elbo_std']:<5.2f}{s['peak_rss_mib']:>7.0f} MiB")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
