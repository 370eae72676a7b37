"""README.md never lies: its Python blocks run, and CI runs its test command."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


@pytest.mark.slow
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

def test_every_test_the_reliability_section_names_exists():
    section = README.split("## Reliability", 1)[1].split("\n## ", 1)[0]
    named = re.findall(r"`(test_[a-z_]+\.py)::(test_[a-z0-9_]+)`", section)
    assert len(named) >= 20
    missing = [f"{f}::{t}" for f, t in named if f"def {t}(" not in (ROOT / "tests" / f).read_text()]
    assert not missing


@pytest.mark.slow
def test_your_own_data_commands_run(tmp_path, monkeypatch):
    """The `sh` block of "Your own data", each `kvae train` with `--epochs 1`, on small files of each kind."""
    import shlex

    import numpy as np
    import tensorflow as tf

    import kvae
    from kvae_cli import main

    monkeypatch.chdir(tmp_path)
    digits = kvae.data.load_digits()
    # 28x28 images: each 8x8 digit scaled up 3x and padded.
    images = np.pad(np.kron(digits.x_train[:200, ..., 0], np.ones((3, 3))), ((0, 0), (2, 2), (2, 2)))
    pixels = np.round(images * 255).astype(np.uint8)[..., None]
    (tmp_path / "shards").mkdir()
    writers = [tf.io.TFRecordWriter(f"shards/train-{k}.tfrecord") for k in range(2)]
    for i, (image, label) in enumerate(zip(pixels, digits.y_train)):
        (tmp_path / "images" / str(label)).mkdir(parents=True, exist_ok=True)
        (tmp_path / "images" / str(label) / f"{i}.png").write_bytes(tf.io.encode_png(image).numpy())
        feature = {"image_raw": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image.tobytes()])),
                   "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)]))}
        writers[i % 2].write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    for writer in writers:
        writer.close()
    rows = np.random.default_rng(0).normal(size=(200, 4)) * [1, 10, 100, 1000]
    (tmp_path / "sensors.csv").write_text("a,b,c,d\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))

    block = next(b for b in _blocks("sh") if "kvae train --data images/" in b)
    commands = [shlex.split(line) for line in block.strip().splitlines()]
    assert [c[:2] for c in commands] == [["kvae", "train"]] * 4 + [["kvae", "evaluate"], ["kvae", "export"]]
    for command in commands:
        extra = ["--epochs", "1", "--verbose", "0"] if command[1] == "train" else []
        extra += ["--iw-samples", "10"] if command[1] == "evaluate" else []
        assert main(command[1:] + extra) == 0, command
    served = tf.saved_model.load("saved_models/images/1").signatures
    assert {"encode_image", "reconstruct_image", "score_image"} <= set(served)
