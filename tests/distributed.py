"""Helpers to run local multi-process / multi-device training scripts in tests."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from multiprocessing import context, forkserver, popen_forkserver
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


def start(args, log_path, cwd=None, **extra_env):
    """Starts `args` in a process of its own group, so it (and children) can be SIGKILLed.

    `python -m MODULE ...` and `python SCRIPT.py ...` are forked from a server
    that has imported what they need once (`Forked`); anything else is a
    subprocess.
    """
    preload = _preload(args)
    if preload is not None:
        return Forked(args, log_path, extra_env, preload, cwd)
    log = open(log_path, "a")
    return subprocess.Popen(
        args, stdout=log, stderr=subprocess.STDOUT, env=env(**extra_env), start_new_session=True, cwd=cwd
    )


def run(args, log_path, timeout, cwd=None, **extra_env):
    """Runs `args` as `start` does and waits; returns (exit code, its output). Killed at `timeout` s."""
    process = start(args, log_path, cwd, **extra_env)
    try:
        code = process.wait(timeout=timeout)
    finally:
        kill(process)
    return code, Path(log_path).read_text(errors="replace")


# === Processes forked from a server that imported TensorFlow (and kvae) once ===
#
# A fresh `python -m kvae` spends about 9 s of CPU importing TensorFlow and kvae before it
# does anything, a script that loads a SavedModel about 7 s importing TensorFlow; the tests
# start dozens. A fork server (multiprocessing's) imports them once, before TensorFlow's
# runtime starts (no thread pools, no devices, so forking is safe, and a child may still split
# its CPU into logical devices), and forks a child per process. A child is a real process: its
# own pid and session, SIGKILL, exit codes (negative: killed by that signal), flock.

KVAE = ("distributed", "kvae_cli", "kvae", "kvae.cli")
TENSORFLOW = ("distributed", "numpy", "tensorflow")
# Scripts that prove a SavedModel needs no kvae: forked from a server that never imported it.
WITHOUT_KVAE = {"run_saved_model.py", "serve_requests.py"}


def _preload(args):
    """The modules of the server to fork `args` from, or None for a subprocess."""
    if len(args) < 2 or args[0] != sys.executable:
        return None
    if args[1] == "-m":  # kvae's CLI, or a module of the repository (bench)
        return KVAE
    if args[1].endswith(".py"):
        return TENSORFLOW if os.path.basename(args[1]) in WITHOUT_KVAE else KVAE
    return None


_servers = {}


def _server(preload):
    """multiprocessing keeps one fork server per process; here each set of modules has its own."""
    if preload not in _servers:
        _servers[preload] = forkserver.ForkServer()
        _servers[preload].set_forkserver_preload(list(preload))
    return _servers[preload]


_launching = threading.Lock()  # tests start processes from threads too (test_run_folder's kills)


class _Popen(popen_forkserver.Popen):
    def _launch(self, process_obj):
        # Launched as multiprocessing launches, through the server of the process's modules.
        with _launching:
            default = forkserver.connect_to_new_process
            forkserver.connect_to_new_process = _server(process_obj.preload).connect_to_new_process
            try:
                super()._launch(process_obj)
            finally:
                forkserver.connect_to_new_process = default


class _Process(context.ForkServerProcess):
    """A process forked from the server that imported `preload`."""

    _Popen = staticmethod(_Popen)

    def __init__(self, preload, **kwargs):
        super().__init__(**kwargs)
        self.preload = preload


def _child(args, log_path, extra_env, cwd):
    """The forked child: a new session, the test's environment, folder and log, then the command."""
    import io
    import runpy

    os.setsid()
    os.environ.update(env(**extra_env))
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.stdout = sys.stderr = io.TextIOWrapper(open(1, "wb", buffering=0, closefd=False), write_through=True)
    if cwd is not None:
        os.chdir(cwd)
    if args[1:3] in (["-m", "kvae"], ["-m", "kvae_cli"]):
        from kvae_cli import main

        sys.argv = ["kvae", *args[3:]]
        sys.exit(main(args[3:]))
    if args[1] == "-m":
        sys.argv = [args[2], *args[3:]]
        sys.path.insert(0, os.getcwd())  # as `python -m` does
        runpy.run_module(args[2], run_name="__main__", alter_sys=True)
        return
    sys.argv = list(args[1:])
    sys.path.insert(0, os.path.dirname(os.path.abspath(args[1])))
    runpy.run_path(args[1], run_name="__main__")


class Forked:
    """A `subprocess.Popen`-like handle (`pid`, `poll`, `wait`, `returncode`) on a forked child."""

    def __init__(self, args, log_path, extra_env, preload=KVAE, cwd=None):
        self.args = args
        self._process = _Process(preload, target=_child, args=(list(args), str(log_path), extra_env, cwd))
        self._process.start()
        self.pid = self._process.pid

    @property
    def returncode(self):
        return self._process.exitcode

    def poll(self):
        self._process.join(0)
        return self._process.exitcode

    def wait(self, timeout=None):
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(self.args, timeout)
        return self._process.exitcode


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
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:  # a forked child not yet in its own group
            os.kill(process.pid, signal.SIGKILL)
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
