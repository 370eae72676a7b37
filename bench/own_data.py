"""Training from users' files vs from memory: examples/s after the first epoch, and peak RSS.

    python bench/own_data.py [--epochs 5] [--rounds 2] [--work DIR]

Writes Fashion-MNIST's 60,000 training images once as a folder of PNG files
(class sub-folders) and as 8 TFRecord shards of raw bytes (also a 15,000-image
copy of each, for the memory comparison), then trains the 784-400-20 MLP VAE
(Bernoulli, batch 128, Adam, `steps_per_execution="auto"` as `kvae train`
does) in a fresh process per run, alternating the contenders in each round:

- `in-memory`: the arrays on `make_dataset`'s pipeline (what `--data
  fashion_mnist` does), on as many examples as the file sources train on
  (54,000: they hold out 10%), so that every contender runs the same steps
  per epoch and `steps_per_execution="auto"` picks the same count for all;
- `folder, streamed`: `kvae.data.ImageFolder` decoding PNGs batch by batch;
- `folder, --cache`: the same folder decoded once into memory;
- `folder, --disk-cache`: the same folder decoded once into `kvae.data.DiskCache` on disk (built by
  the first run that opens it, whose opening time includes the build; reused by the rest);
- `TFRecord, streamed`: `kvae.data.TFRecordSource` parsing raw bytes.

Two more rows explain the numbers: `in-memory, 60,000` (Fashion-MNIST's own
training split: 469 steps per epoch where 54,000 examples make 422; both run
32 steps per call and an epoch's remainder as one shorter call, so they should
train equally fast), and the streamed folder's pipeline alone (`folder, no training`:
reading and decoding every file, with nothing else on the cores), the
ceiling a streamed folder can feed training at on this machine.

Throughput is examples/s over epochs 2..E (the first epoch pays for tracing
and, for --cache, the decode). Peak RSS (`ru_maxrss`) of the streamed runs is
measured on 15,000 and 60,000 images: streaming holds a file list, not the
images, so it should not grow with the data. Prints a table and writes
bench/results/own_data.json.
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CONTENDERS = ("in-memory", "folder, streamed", "folder, --cache", "folder, --disk-cache", "TFRecord, streamed")
DISK_TARGET = 0.9  # of in-memory examples/s, from epoch 2, for the disk cache
FULL_SPLIT = "in-memory, 60,000"
PIPELINE_ALONE = "folder, no training"
HELD_OUT = 0.1  # what the file sources hold out
TARGET = 0.8  # of in-memory examples/s


def _write_data(work, sizes):
    import numpy as np
    import tensorflow as tf

    import kvae

    data = kvae.data.load_fashion_mnist()
    pixels = np.round(data.x_train * 255).astype(np.uint8)
    for size in sizes:
        folder = work / f"png-{size}"
        if not (folder / ".complete").exists():
            for i in range(size):
                label = int(data.y_train[i])
                (folder / str(label)).mkdir(parents=True, exist_ok=True)
                (folder / str(label) / f"{i:05d}.png").write_bytes(tf.io.encode_png(pixels[i]).numpy())
            (folder / ".complete").write_text("")
        shards = work / f"tfrecord-{size}"
        if not (shards / ".complete").exists():
            shards.mkdir(parents=True, exist_ok=True)
            for shard in range(8):
                with tf.io.TFRecordWriter(str(shards / f"train-{shard}.tfrecord")) as writer:
                    for i in range(shard, size, 8):
                        feature = {"image_raw": tf.train.Feature(
                            bytes_list=tf.train.BytesList(value=[pixels[i].tobytes()]))}
                        writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
            (shards / ".complete").write_text("")


def _job(name, work, size, epochs, batch_size):
    """One training run in this process; prints a JSON line of its numbers."""
    import keras

    import kvae

    opened = time.perf_counter()
    if name.startswith("in-memory"):
        data = kvae.data.load_fashion_mnist()
        if name == "in-memory":  # as many training examples as the file sources keep
            data = data._replace(x_train=data.x_train[:round(size * (1 - HELD_OUT))])
        source = kvae.data.ArraySource(data)
    elif name.startswith("folder"):
        source = kvae.data.ImageFolder(work / f"png-{size}", "28x28")
        if name.endswith("--disk-cache"):
            source = kvae.data.DiskCache(source, work / "disk-cache")
        elif name.endswith("--cache"):
            source = source.cached()
    else:
        source = kvae.data.TFRecordSource(str(work / f"tfrecord-{size}" / "*.tfrecord"), "image_raw",
                                          image_size="28x28")
    open_seconds = time.perf_counter() - opened
    keras.utils.set_random_seed(0)
    model = kvae.build_vae((28, 28, 1), 20, hidden_units=400, seed=0)
    model.compile(steps_per_execution="auto")  # kvae's defaults (the fused Adam)
    steps = kvae.data.steps_per_epoch(source.num_train, batch_size)
    times = []

    class EpochTimes(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    if name == PIPELINE_ALONE:  # the input pipeline alone, epoch by epoch
        stream = iter(source.train_dataset(batch_size, seed=0))
        for _ in range(epochs):
            start = time.perf_counter()
            for _ in range(steps):
                next(stream)
            times.append(time.perf_counter() - start)
    else:
        model.fit(source.train_dataset(batch_size, seed=0), epochs=epochs, steps_per_epoch=steps, verbose=0,
                  callbacks=[EpochTimes()])
    later = times[1:]
    print(json.dumps({
        "name": name, "size": size, "train_examples": source.num_train, "open_seconds": open_seconds,
        "steps_per_execution": model.steps_per_execution,
        "epoch_seconds": times, "examples_per_s": source.num_train * len(later) / sum(later),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def _run(name, work, size, epochs, batch_size):
    command = [sys.executable, __file__, "--job", name, "--work", str(work), "--size", str(size),
               "--epochs", str(epochs), "--batch-size", str(batch_size)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if result.returncode:
        raise SystemExit(f"{name} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def readme_table(saved):
    """The README's table, rendered from the JSON (a test checks the README holds it)."""
    memory = saved["peak_rss_by_size_mib"]
    lines = ["| pipeline | examples/s | vs in-memory | opening (s) | peak RSS, 15k / 60k images |",
             "| --- | --- | --- | --- | --- |"]
    for row in saved["rows"]:
        name = row["pipeline"]
        rss = f"{memory[name]['15000']:,.0f} / {memory[name]['60000']:,.0f} MiB" if name in memory else ""
        label = {"in-memory": "in-memory arrays, 54,000 examples", FULL_SPLIT: "in-memory arrays, all 60,000",
                 PIPELINE_ALONE: "the folder's reading and decoding alone, no training"}.get(name, name)
        cells = [label, f"{row['examples_per_s']:,.0f}", f"{row['ratio_to_in_memory']:.2f}×",
                 "" if name == PIPELINE_ALONE else f"{row['open_seconds']:.1f}", rss]
        if name in (FULL_SPLIT, PIPELINE_ALONE):  # rows that explain the others, set apart
            cells = [f"*{c}*" if c else c for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--work", default="/tmp/kvae-own-data-bench", help="where the PNGs and shards are written")
    parser.add_argument("--out", default=str(HERE / "results" / "own_data.json"))
    parser.add_argument("--job", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=60000, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    work = Path(args.work)
    if args.job:
        return _job(args.job, work, args.size, args.epochs, args.batch_size)

    sys.path.insert(0, str(ROOT))
    from bench.output import machine, write_json

    _write_data(work, (15000, 60000))
    runs = {name: [] for name in (*CONTENDERS, FULL_SPLIT, PIPELINE_ALONE)}
    for _ in range(args.rounds):  # alternate the contenders: drift on a shared machine hits all alike
        for name in runs:
            runs[name].append(_run(name, work, 60000, args.epochs, args.batch_size))
    memory = {}
    for name in ("folder, streamed", "folder, --disk-cache", "TFRecord, streamed"):
        memory[name] = {size: _run(name, work, size, 2, args.batch_size)["peak_rss_mib"] for size in (15000, 60000)}

    baseline = statistics.median(r["examples_per_s"] for r in runs["in-memory"])
    rows = []
    print(f"{'pipeline':<22} {'train examples':>14} {'steps/call':>10} {'examples/s':>11} {'vs memory':>10} "
          f"{'open s':>7} {'peak RSS MiB':>13}")
    for name, these in runs.items():
        speed = statistics.median(r["examples_per_s"] for r in these)
        row = {"pipeline": name, "train_examples": these[0]["train_examples"],
               "steps_per_execution": these[0]["steps_per_execution"], "examples_per_s": speed,
               "ratio_to_in_memory": speed / baseline,
               "open_seconds": statistics.median(r["open_seconds"] for r in these),
               "peak_rss_mib": max(r["peak_rss_mib"] for r in these), "runs": these}
        rows.append(row)
        print(f"{name:<22} {row['train_examples']:>14} {row['steps_per_execution']:>10} {speed:>11.0f} "
              f"{speed / baseline:>9.2f}x {row['open_seconds']:>7.1f} {row['peak_rss_mib']:>13.0f}")
    print(f"({PIPELINE_ALONE}: reading and decoding the PNGs alone, the ceiling of `folder, streamed`)")
    print()
    print(f"{'streamed pipeline':<22} {'RSS 15k MiB':>12} {'RSS 60k MiB':>12} {'60k / 15k':>10}")
    for name, sizes in memory.items():
        print(f"{name:<22} {sizes[15000]:>12.0f} {sizes[60000]:>12.0f} {sizes[60000] / sizes[15000]:>10.2f}")
    targets = {row["pipeline"]: row["ratio_to_in_memory"] >= (DISK_TARGET if "disk" in row["pipeline"] else TARGET)
               for row in rows if row["pipeline"] in CONTENDERS[1:]}
    write_json(args.out, {
        "machine": machine(), "epochs": args.epochs, "rounds": args.rounds, "batch_size": args.batch_size,
        "model": "784-400-20 MLP, Bernoulli", "rows": rows, "target_ratio": TARGET, "disk_cache_target_ratio": DISK_TARGET, "meets_target": targets,
        "peak_rss_by_size_mib": {name: {str(k): v for k, v in sizes.items()} for name, sizes in memory.items()},
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
