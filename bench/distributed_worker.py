"""One timed `fit` for bench/distributed.py (one process; a worker, or a whole run)."""

import argparse
import json
import os
import time

parser = argparse.ArgumentParser()
parser.add_argument("--strategy", default="default")
parser.add_argument("--logical-cpus", type=int, default=1)
parser.add_argument("--steps", type=int, default=100)
parser.add_argument("--batch-size", type=int, default=128)
parser.add_argument("--out", required=True)
args = parser.parse_args()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

if args.logical_cpus > 1:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * args.logical_cpus)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kvae  # noqa: E402


class Clock(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start


strategy = kvae.distribute.get_strategy(args.strategy)
x = np.random.default_rng(0).uniform(size=(args.steps * args.batch_size, 28, 28, 1)).astype("float32")
with strategy.scope():
    model = kvae.build_vae((28, 28, 1), 20, hidden_units=400, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
data = kvae.data.make_dataset(x, args.batch_size, shuffle=True, seed=0, start_epoch=0)
clock = Clock()
# Epoch 1 traces and warms up; epoch 2 is timed.
model.fit(data, epochs=2, steps_per_epoch=args.steps, callbacks=[clock], verbose=0)
with open(args.out, "w") as f:
    json.dump({"steps_per_s": args.steps / clock.seconds, "replicas": strategy.num_replicas_in_sync}, f)
