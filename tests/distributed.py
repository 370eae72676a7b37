"""Helpers to run local multi-process / multi-device training scripts in tests."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SCRIPTS = Path(__file__).resolve().parent / "scripts"


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def env(**extra):
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1", **extra)


def start(args, log_path, **extra_env):
    """Starts a process in its own group so it (and children) can be SIGKILLed."""
    log = open(log_path, "a")
    return subprocess.Popen(
        args, stdout=log, stderr=subprocess.STDOUT, env=env(**extra_env), start_new_session=True
    )


def tf_config(ports, index):
    return json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
        "task": {"type": "worker", "index": index},
    })


def wait_for(condition, processes, timeout, what):
    """Polls `condition()` until true; fails (killing `processes`) after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
            for p in processes:
                kill(p)
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def kill(process):
    # Workers waiting for peers ignore SIGTERM: only SIGKILL ends them for sure.
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def run_all(processes, timeout):
    """Waits for every process; kills them all (SIGKILL) if any overruns `timeout`."""
    try:
        return [p.wait(timeout=timeout) for p in processes]
    finally:
        for p in processes:
            kill(p)


def fit_script(tmp_path, name, *extra, timeout=120):
    """Runs tests/scripts/multi_worker_fit.py once; returns its saved arrays."""
    out = tmp_path / f"{name}.npz"
    process = start([sys.executable, str(SCRIPTS / "multi_worker_fit.py"), "--out", str(out), *extra], tmp_path / f"{name}.log")
    codes = run_all([process], timeout)
    assert codes == [0], (tmp_path / f"{name}.log").read_text()[-3000:]
    return dict(np.load(out))


def weights(result):
    return [result[k] for k in sorted((k for k in result if k.startswith("w")), key=lambda k: int(k[1:]))]
