"""`kvae_cli`: the console script answers at once, imports TensorFlow quietly, offers the library's names."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from kvae_cli import choices, quiet

# Its module-scoped fixtures train or export: one worker runs them once (`--dist loadgroup`).
pytestmark = pytest.mark.xdist_group("test_cli_front_end")

# Generous for a shared CI machine: the front end answers in ~0.1 s, importing TensorFlow takes ~5 s.
HELP_SECONDS = 2.5


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(extra)
    return env


def _tensorflow_lines(text):
    return [line for line in text.splitlines() if quiet.LOG_LINE.match(line) or line == quiet.ABSL_NOTICE]


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["evaluate", "--help"], ["export", "--help"]])
def test_help_answers_at_once_without_tensorflow(argv):
    best = float("inf")
    for _ in range(2):  # the better of two: a cold disk cache is not the front end's fault
        start = time.perf_counter()
        result = subprocess.run(["kvae"] + argv, capture_output=True, text=True, env=_env(), timeout=60)
        best = min(best, time.perf_counter() - start)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: kvae") and result.stderr == ""
    assert not _tensorflow_lines(result.stdout)
    assert best < HELP_SECONDS, f"`kvae {' '.join(argv)}` took {best:.2f} s"


def test_parsing_imports_neither_tensorflow_nor_the_library():
    code = (
        "import sys, kvae_cli; kvae_cli.build_parser().parse_args(['train', '--epochs', '3']);"
        "print(sorted(m for m in ('tensorflow', 'keras', 'kvae', 'numpy') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr


def test_choices_are_generated_from_the_library_registries():
    from kvae.cli import choices as generator

    assert generator.TARGET.read_text() == generator.source(), "run `python -m kvae.cli.choices`"
    import kvae

    assert choices.POSTERIORS == kvae.posteriors.REGISTRY.names and choices.DTYPE_POLICIES == kvae.networks.DTYPE_POLICIES


@pytest.mark.parametrize(
    "level, kept",
    [(3, ["F0000 00:00:12.5 7 a.cc:1] fatal", "own line"]),
     (2, ["E1123 05:27:20.123456 7 b.cc:2] error", "F0000 00:00:12.5 7 a.cc:1] fatal", "own line"]),
     (0, None)],
)
def test_filter_log_lines_drops_only_cpp_lines_below_the_level(level, kept):
    lines = [
        quiet.ABSL_NOTICE,
        "I0000 00:00:1795411775.026484    1186 port.cc:153] oneDNN custom operations are on.",
        "W1123 05:27:20.1 7 c.cc:3] warning",
        "E1123 05:27:20.123456 7 b.cc:2] error",
        "F0000 00:00:12.5 7 a.cc:1] fatal",
        "own line",
    ]
    text = "".join(line + "\n" for line in lines)
    expected = lines if kept is None else kept
    assert quiet.filter_log_lines(text, level).splitlines() == expected


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    import kvae

    out = tmp_path_factory.mktemp("front_end")
    model = kvae.build_vae((4,), latent_dim=2, hidden_units=8, seed=0)
    model.compile()
    model.fit(np.random.default_rng(0).uniform(size=(32, 4)).astype("float32"), epochs=1, verbose=0)
    kvae.RunFolder(out).save_model(model)
    return out


@pytest.mark.e2e
def test_a_command_shows_no_tensorflow_log_lines_unless_verbose(run_dir, tmp_path):
    argv = ["sample", str(run_dir), "--n", "4", "--out", str(tmp_path / "s.png")]
    quiet_run = subprocess.run(["kvae"] + argv, capture_output=True, text=True, env=_env(), timeout=300)
    assert quiet_run.returncode == 0, quiet_run.stderr
    assert quiet_run.stdout.strip() == f"wrote 4 samples to {tmp_path / 's.png'}"
    assert _tensorflow_lines(quiet_run.stderr) == [], quiet_run.stderr
    # TensorFlow 2.21 logs its start-up lines whatever the level: --verbose and a user's level show them.
    for command, env in ((["kvae", "--verbose"], _env()), (["kvae"], _env(TF_CPP_MIN_LOG_LEVEL="0"))):
        loud = subprocess.run(command + argv, capture_output=True, text=True, env=env, timeout=300)
        assert loud.returncode == 0, loud.stderr
        assert _tensorflow_lines(loud.stderr), f"{command}: expected TensorFlow's lines, got {loud.stderr!r}"


@pytest.mark.e2e
def test_errors_are_one_line_without_traceback(tmp_path):
    expected = (
        f"kvae evaluate: error: RUN_DIR {str(tmp_path)!r} has no model.keras: expected a folder written by "
        "`kvae train`"
    )
    for command in (["kvae"], [sys.executable, "-m", "kvae_cli"], [sys.executable, "-m", "kvae"]):
        result = subprocess.run(
            command + ["evaluate", str(tmp_path)], capture_output=True, text=True, env=_env(), timeout=120
        )
        assert result.returncode == 2
        lines = result.stderr.splitlines()
        if command[1:] == ["-m", "kvae"]:
            # `python -m kvae` imports TensorFlow (via `kvae`) before the front end can quiet it.
            lines = [line for line in lines if line.startswith("kvae")]
        assert lines == [expected], result.stderr
