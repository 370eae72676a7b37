"""Training throughput of one device vs MirroredStrategy vs 2 worker processes, on one machine.

    python bench/distributed.py [--steps 100] [--repeats 3]

The 784-400-20 MLP VAE (Bernoulli, Adam, global batch 128) trains for one
warm-up epoch and one timed epoch of --steps steps in each setting, in
alternation, --repeats times. "mirrored" splits each batch over 2 logical CPU
devices of this machine; "2 workers" runs two local processes under
MultiWorkerMirroredStrategy with TF_CONFIG on 127.0.0.1. All settings share the
same cores, so this measures the overhead of distribution, not a speed-up.
Prints a table and writes bench/results/distributed.json.
"""

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WORKER = HERE / "distributed_worker.py"


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def launch(command, log_path, **extra_env):
    """Starts a worker in a session of its own (SIGKILL ends it and its children), output to `log_path`."""
    with open(log_path, "a") as log:
        return subprocess.Popen(command, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **extra_env), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _run(setting, steps, batch_size, timeout, launch=launch):
    with tempfile.TemporaryDirectory() as tmp:
        base = [sys.executable, str(WORKER), "--steps", str(steps), "--batch-size", str(batch_size)]
        commands = []
        if setting == "default":
            commands.append((base + ["--out", f"{tmp}/0.json"], {}))
        elif setting == "mirrored":
            commands.append((base + ["--out", f"{tmp}/0.json", "--strategy", "mirrored", "--logical-cpus", "2"], {}))
        else:
            ports = _free_ports(2)
            for i in range(2):
                config = {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]}, "task": {"type": "worker", "index": i}}
                commands.append((base + ["--out", f"{tmp}/{i}.json", "--strategy", "multi_worker"],
                                 {"TF_CONFIG": json.dumps(config)}))
        processes = [launch(c, f"{tmp}/{i}.log", **e) for i, (c, e) in enumerate(commands)]
        try:
            for p in processes:
                p.wait(timeout=timeout)
        finally:
            for p in processes:  # workers waiting for a dead peer ignore SIGTERM
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        if any(p.returncode for p in processes):
            raise RuntimeError(f"{setting} failed: " + Path(f"{tmp}/0.log").read_text(errors="replace")[-2000:])
        result = json.loads(Path(f"{tmp}/0.json").read_text())
    return result


def main(argv=None, launch=launch):
    """Runs the benchmark; `launch(command, log_path, **extra_env)` starts each worker (a `Popen`-like)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--out", default=str(HERE / "results" / "distributed.json"))
    args = parser.parse_args(argv)

    settings = ("default", "mirrored", "2 workers")
    runs = {s: [] for s in settings}
    for _ in range(args.repeats):
        for setting in settings:
            runs[setting].append(_run(setting, args.steps, args.batch_size, args.timeout, launch))

    base = np.median([r["steps_per_s"] for r in runs["default"]])
    summary = {"steps": args.steps, "batch_size": args.batch_size, "repeats": args.repeats,
               "machine": {"cpus": os.cpu_count(), "platform": platform.platform()}, "settings": {}}
    print(f"\nglobal batch {args.batch_size}, {args.steps} timed steps, median of {args.repeats}")
    print(f"{'setting':<12}{'replicas':>10}{'steps/s':>10}{'vs default':>12}")
    for setting in settings:
        speeds = [r["steps_per_s"] for r in runs[setting]]
        median = float(np.median(speeds))
        summary["settings"][setting] = {
            "replicas": runs[setting][0]["replicas"], "steps_per_s_median": median,
            "steps_per_s": speeds, "ratio_to_default": median / base,
        }
        print(f"{setting:<12}{runs[setting][0]['replicas']:>10}{median:>10.1f}{median / base:>11.2f}x")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {out}")
    return summary


if __name__ == "__main__":
    main()
