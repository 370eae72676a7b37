"""Dropping `kvae.VAE` into a plain Keras script: your own networks, tf.data, callbacks, TensorBoard.

    python examples/existing_pipeline.py --epochs 30 --out runs/existing_pipeline

Nothing here is kvae-specific except the `kvae.VAE(...)` line and the
optional `kvae.callbacks`: the encoder and decoder are ordinary functional
Keras models, the input is a `tf.data` pipeline you would already have
(here: scikit-learn's digits, scaled to [0, 1] inside the pipeline from
uint8-like integers), and training uses `compile`/`fit` with the standard
callbacks. `model.fit` logs loss, reconstruction, kl, elbo and active_units
(and `val_` versions) to the progress bar, CSVLogger and TensorBoard like any
Keras metric. Writes best.keras, history.csv and tensorboard/ to --out.

    tensorboard --logdir runs/existing_pipeline/tensorboard
"""

import argparse
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import kvae

LATENT_DIM = 8


def networks():
    """An encoder x → [μ, raw σ] and a decoder z → Bernoulli logits, plain Keras."""
    x = keras.Input((8, 8, 1))
    h = keras.layers.Flatten()(x)
    h = keras.layers.Dense(128, activation="gelu")(h)
    h = keras.layers.LayerNormalization()(h)
    encoder = keras.Model(x, keras.layers.Dense(2 * LATENT_DIM)(h), name="my_encoder")
    z = keras.Input((LATENT_DIM,))
    h = keras.layers.Dense(128, activation="gelu")(z)
    logits = keras.layers.Reshape((8, 8, 1))(keras.layers.Dense(64)(h))
    decoder = keras.Model(z, logits, name="my_decoder")
    return encoder, decoder


def datasets(batch_size=64):
    """Your existing tf.data input: integer pixels scaled on the fly, cached, shuffled, prefetched."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits.images.astype("uint8")[..., np.newaxis]  # values 0..16
    train, test = train_test_split(images, test_size=0.2, random_state=0, stratify=digits.target)

    def pipeline(array, shuffle):
        ds = tf.data.Dataset.from_tensor_slices(array).cache()
        if shuffle:
            ds = ds.shuffle(len(array), seed=0)
        ds = ds.batch(batch_size).map(lambda b: tf.cast(b, tf.float32) / 16.0)
        return ds.prefetch(tf.data.AUTOTUNE)

    return pipeline(train, True), pipeline(test, False), test.astype("float32") / 16.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--image-every", type=int, default=5, help="epochs between TensorBoard image grids")
    parser.add_argument("--out", default="runs/existing_pipeline")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    keras.utils.set_random_seed(0)
    encoder, decoder = networks()
    vae = kvae.VAE(encoder, decoder, latent_dim=LATENT_DIM, likelihood="bernoulli", seed=0)
    vae.compile(optimizer=kvae.optimizers.Adam(2e-3))
    train, test, x_test = datasets()
    history = vae.fit(
        train,
        validation_data=test,
        epochs=args.epochs,
        verbose=2,
        shuffle=False,  # the pipeline shuffles
        callbacks=[
            kvae.callbacks.KLWarmup(duration=5, unit="epoch"),  # before the loggers, so they record β
            # While β < 1 the loss is not the −ELBO: select and schedule on val_elbo.
            keras.callbacks.ModelCheckpoint(str(out / "best.keras"), monitor="val_elbo", mode="max",
                                            save_best_only=True),
            keras.callbacks.CSVLogger(str(out / "history.csv")),
            keras.callbacks.TensorBoard(str(out / "tensorboard")),
            kvae.callbacks.ImageLogger(x_test[:16], every=args.image_every, log_dir=out / "tensorboard"),
            keras.callbacks.ReduceLROnPlateau(monitor="val_elbo", mode="max", patience=5),
        ],
    )
    best = keras.saving.load_model(out / "best.keras")
    logs = best.evaluate(test, return_dict=True, verbose=0)
    print(f"best checkpoint: test -ELBO {-logs['elbo']:.2f} nats, KL {logs['kl']:.2f}, "
          f"active units {int(logs['active_units'])} of {LATENT_DIM}")
    return history.history, logs


if __name__ == "__main__":
    main()
