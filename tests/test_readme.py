"""README.md never lies: its Python blocks run, and CI runs its test command."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_blocks_run(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(_blocks("python")[index], f"README.md python block {index}", "exec"), {})


def test_ci_runs_exactly_the_readme_test_command():
    commands = [b.strip() for b in _blocks("bash")]
    test_command = next(c for c in commands if "pytest" in c)
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command in ci.splitlines()
    assert commands[0] == "pip install . && kvae train && kvae export runs/digits --to saved_models/digits"


def test_cli_usage_in_readme_matches_the_parser():
    from kvae_cli import build_parser

    usage = next(b for b in _blocks("text") if b.startswith("kvae [")).replace("\n           ", " ")  # join continuation lines
    lines = {line.split()[1]: line for line in usage.splitlines() if line.startswith("kvae ")}
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command").choices
    assert set(lines) == set(subparsers) | {"[--verbose]"}
    parsers = dict(subparsers, **{"[--verbose]": parser})
    for command, sub in parsers.items():
        options = {o for a in sub._actions for o in a.option_strings if o.startswith("--")} - {"--help"}
        line = lines[command].split("{")[0] if sub is parser else lines[command]
        documented = set(re.findall(r"--[a-z-]+", line))
        assert documented <= options, (command, "documented but not a flag", documented - options)
        assert options <= documented, (command, "a flag the README does not show", options - documented)