"""Train a VAE on the embedded digits with ordinary Keras callbacks, then sample.

    python examples/digits_quickstart.py --epochs 50 --out runs/quickstart

Writes `best.keras` (best validation −ELBO), `history.csv` and `samples.png`
to --out, and prints the test −ELBO and the importance-sampled NLL (K=100).
"""

import argparse
from pathlib import Path

import keras
import numpy as np

import kvae
from kvae import plotting


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--out", default="runs/quickstart")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    data = kvae.data.load_digits()
    vae = kvae.build_vae(data.event_shape, latent_dim=8, hidden_units=(256, 128), seed=0)
    vae.compile(optimizer=kvae.optimizers.Adam(2e-3))
    train = kvae.data.make_dataset(data.x_train, 64, shuffle=True, seed=0)
    test = kvae.data.make_dataset(data.x_test, 256)
    vae.fit(
        train,
        validation_data=test,
        epochs=args.epochs,
        verbose=2,
        callbacks=[
            keras.callbacks.ModelCheckpoint(str(out / "best.keras"), monitor="val_loss", save_best_only=True),
            keras.callbacks.CSVLogger(str(out / "history.csv")),
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True),
        ],
    )
    neg_elbo = -vae.evaluate(test, return_dict=True, verbose=0)["elbo"]
    nll = -vae.log_likelihood(data.x_test, num_samples=100).mean()
    plotting.save_samples(out / "samples.png", np.asarray(vae.sample(64, seed=0)))
    print(f"test -ELBO {neg_elbo:.2f} nats, IS-NLL (K=100) {nll:.2f} nats; outputs in {out}")
    return neg_elbo, nll


if __name__ == "__main__":
    main()
