"""What each of kvae's speed choices is worth: `python -m bench.ablations [--rounds 4] [--quick]`.

One process trains the benchmark model (784-400-20 MLP VAE, Bernoulli, Adam 1e-3, batch 128,
Fashion-MNIST) in several variants, each differing from kvae's defaults in one choice:

- `per-element pipeline`: `from_tensor_slices → cache → shuffle → batch → prefetch`, the usual
  tf.data recipe, instead of `make_dataset`'s one `gather` per batch;
- `tfp Bernoulli log-prob`: `tfd.Bernoulli(logits).log_prob(x)` and its automatic gradient instead of
  the fused `Bernoulli.log_prob`;
- `1 step per call`: `steps_per_execution=1` (Keras' default) instead of `"auto"` (32);
- `Keras' Adam`: `keras.optimizers.Adam` instead of `compile()`'s fused `kvae.optimizers.Adam`;
- `mixed_bfloat16`: the networks under Keras' `mixed_bfloat16` policy (`dtype=` on the model), which
  kvae's `jit_compile="auto"` compiles with XLA on CPU;
- `mixed_bfloat16 without XLA`: the same with `jit_compile=False`;
- `XLA`: float32 with `jit_compile=True` (kvae's "auto" leaves float32 on CPU without it).

Every variant is built and traced first, then the variants take turns, one epoch each, for
`--rounds` rounds in rotating order, so a busy spell of a shared machine hits all of them alike.
The score is each variant's fastest epoch (noise on a shared machine only ever adds time, so the
minimum is the steadiest estimate, as `timeit` advises) relative to the defaults' fastest. Prints a table and writes
`bench/results/ablations.json`.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ["defaults", "per-element pipeline", "tfp Bernoulli log-prob", "1 step per call", "Keras' Adam",
            "mixed_bfloat16", "mixed_bfloat16 without XLA", "XLA"]


def _per_element_pipeline(x, batch_size, seed):
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(x).cache().shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _tfp_bernoulli():
    import kvae

    class TfpBernoulli(kvae.likelihoods.Bernoulli):
        def log_prob(self, params, x):  # the generic path: build the tfd distribution
            return self.distribution(params).log_prob(x)

    return TfpBernoulli()


def build(variant, x, seed=0):
    """(model, dataset) for one variant."""
    import kvae
    from bench.references import build_kvae

    vae = build_kvae(
        x, seed,
        likelihood=_tfp_bernoulli() if variant == "tfp Bernoulli log-prob" else "bernoulli",
        fused_adam=variant != "Keras' Adam",
        steps_per_execution=1 if variant == "1 step per call" else "auto",
        dtype="mixed_bfloat16" if variant.startswith("mixed_bfloat16") else None,
        # "auto" is XLA for bfloat16 on CPU (kvae's compile) and not for float32: each measured the other way.
        jit_compile={"XLA": True, "mixed_bfloat16 without XLA": False}.get(variant, "auto"),
    )
    if variant == "per-element pipeline":
        dataset = _per_element_pipeline(x, 128, seed)
    else:
        dataset = kvae.data.make_dataset(x, 128, shuffle=True, seed=seed)
    return vae, dataset


def readme_table(saved):
    """The README's table of this benchmark, rendered from its JSON (a test checks the README holds it)."""
    lines = ["| variant (one change from the defaults) | examples/s (fastest epoch) | speed vs defaults |",
             "| --- | --- | --- |"]
    for name in [v for v in VARIANTS if v in saved["variants"]]:
        row = saved["variants"][name]
        lines.append(f"| {name} | {row['samples_per_s_best']:,.0f} | {row['speed_vs_defaults']:.2f}× |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--quick", action="store_true", help="CI smoke budget: 2048 examples, 2 rounds")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "ablations.json"))
    args = parser.parse_args(argv)

    import kvae

    x = kvae.data.load_fashion_mnist(args.data_dir).x_train
    if args.quick:
        x, args.rounds = x[:2048], 2
    runs = {}
    for variant in VARIANTS:
        model, dataset = build(variant, x)
        model.fit(dataset, epochs=1, verbose=0, shuffle=False)  # warm-up: trace, fill caches
        runs[variant] = (model, dataset)
    seconds = {variant: [] for variant in VARIANTS}
    for r in range(args.rounds):
        order = VARIANTS[r % len(VARIANTS):] + VARIANTS[: r % len(VARIANTS)]  # nobody always first
        for variant in order:
            model, dataset = runs[variant]
            start = time.perf_counter()
            model.fit(dataset, epochs=1, verbose=0, shuffle=False)
            seconds[variant].append(time.perf_counter() - start)

    rows = {}
    for variant in VARIANTS:
        s = np.array(seconds[variant])
        rows[variant] = {
            "samples_per_s_best": float(len(x) / s.min()),
            "speed_vs_defaults": float(min(seconds["defaults"]) / s.min()),
            "epoch_seconds": s.tolist(),
        }
    print(f"\n{len(x)} Fashion-MNIST examples per epoch, {args.rounds} interleaved rounds, one process")
    print(f"{'variant':<26}{'examples/s':>12}{'speed vs defaults':>20}")
    for variant, row in rows.items():
        print(f"{variant:<26}{row['samples_per_s_best']:>12.0f}{row['speed_vs_defaults']:>19.2f}×")
    payload = {"command": "python -m bench.ablations " + " ".join(sys.argv[1:] if argv is None else argv),
               "examples": len(x), "rounds": args.rounds, "variants": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")
    return payload


if __name__ == "__main__":
    main()
