"""One worker of a local MultiWorkerMirroredStrategy run (or a single-process reference).

    python multi_worker_fit.py --out OUT.npz [--workers PORT PORT --index I] [--strategy ...]

Trains a tiny VAE on fixed data for a few epochs and saves the final weights
and the fit history to OUT.npz. Used by tests/test_distribute.py.
"""

import argparse
import json
import os

parser = argparse.ArgumentParser()
parser.add_argument("--out", required=True)
parser.add_argument("--workers", type=int, nargs="*", default=[])
parser.add_argument("--index", type=int, default=0)
parser.add_argument("--strategy", default="default")
parser.add_argument("--logical-cpus", type=int, default=1)
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--examples", type=int, default=20)
parser.add_argument("--batch-size", type=int, default=8)
parser.add_argument("--beta-warmup", type=int, default=0, help="steps of a kvae.schedules.Warmup of beta (0: none)")
parser.add_argument("--prior", default="normal", help="normal, mixture or vamp (3 components)")
parser.add_argument("--posterior", default="normal", help="normal, full or iaf (1 step, 8 hidden units)")
parser.add_argument("--conditional", action="store_true", help="a conditional VAE on 3 classes (labels i % 3)")
parser.add_argument("--iwae", default=None, help="reparam or dreg: the IWAE objective with 3 samples (default: ELBO)")
parser.add_argument("--numpy", action="store_true", help="fit(x, y, batch_size) on NumPy arrays, not a dataset")
args = parser.parse_args()

if args.workers:
    os.environ["TF_CONFIG"] = json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{p}" for p in args.workers]},
        "task": {"type": "worker", "index": args.index},
    })
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

if args.logical_cpus > 1:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * args.logical_cpus)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kvae  # noqa: E402

strategy = kvae.distribute.get_strategy(args.strategy)
x = np.random.default_rng(0).uniform(size=(args.examples, 4, 4, 1)).astype("float32")
with strategy.scope():
    keras.utils.set_random_seed(0)
    beta = kvae.schedules.Warmup(args.beta_warmup) if args.beta_warmup else 1.0
    prior = kvae.priors.get(args.prior, **({"num_components": 3, "seed": 2} if args.prior != "normal" else {}))
    objective = kvae.objectives.IWAE(3, gradient=args.iwae) if args.iwae else kvae.objectives.ELBO(beta)
    posterior = kvae.posteriors.IAF(1, hidden_units=8, context_units=2) if args.posterior == "iaf" else args.posterior
    model = kvae.build_vae((4, 4, 1), 3, hidden_units=(8,), seed=1, prior=prior, posterior=posterior,
                           objective=objective, num_classes=3 if args.conditional else None)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
labels = np.arange(args.examples) % 3 if args.conditional else None
if args.numpy:
    history = model.fit(x, labels, batch_size=args.batch_size, epochs=args.epochs, shuffle=False, verbose=0)
else:
    dataset = kvae.data.make_dataset(x, args.batch_size, shuffle=True, seed=3, start_epoch=0, y=labels)
    steps = kvae.data.steps_per_epoch(len(x), args.batch_size)
    history = model.fit(dataset, epochs=args.epochs, steps_per_epoch=steps, verbose=0)
np.savez(
    args.out,
    replicas=strategy.num_replicas_in_sync,
    loss=np.array(history.history["loss"]),
    kl=np.array(history.history["kl"]),
    beta=np.array(history.history.get("beta", [])),
    **{f"w{i}": w for i, w in enumerate(model.get_weights())},
)
