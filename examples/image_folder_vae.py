"""Your own images: write a folder of PNG files, train on it with the CLI, serve `score_image` on PNG bytes.

    python examples/image_folder_vae.py [--data fashion_mnist|digits] [--images 6000] [--epochs 5]

1. Writes real images as PNG files in class sub-folders (`images/<class>/<n>.png`),
   the layout of most users' data (Fashion-MNIST from its IDX files, or the
   embedded digits).
2. Trains with `kvae train --data images --image-size HxW`: the folder is
   streamed and decoded batch by batch, and class sub-folders become labels.
3. Exports the run (`kvae export`): the SavedModel has `encode_image`,
   `reconstruct_image` and `score_image`, which take encoded image bytes.
4. Scores PNG bytes through `score_image`, as TF Serving would (its REST API
   takes them base64-encoded: see `examples/serving_client.py`), and checks
   the answer against `score` on the pixels the training pipeline decodes.
"""

import argparse
from pathlib import Path

import numpy as np
import tensorflow as tf

import kvae
from kvae_cli import main as kvae_cli


def write_folder(folder, data, limit):
    """`data`'s first `limit` training images as PNG files in class sub-folders."""
    pixels = np.round(data.x_train[:limit] * 255).astype(np.uint8)
    for i, (image, label) in enumerate(zip(pixels, data.y_train[:limit])):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        (folder / str(label) / f"{i:05d}.png").write_bytes(tf.io.encode_png(image).numpy())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", choices=["fashion_mnist", "digits"], default="fashion_mnist")
    parser.add_argument("--images", type=int, default=6000, help="PNG files to write")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--work", default="image_folder_run", help="folder for the images, run and model")
    args = parser.parse_args(argv)
    work = Path(args.work)
    data = kvae.data.load(args.data)
    size = "x".join(str(d) for d in data.event_shape[:2])
    folder = work / "images"
    if not folder.is_dir():
        write_folder(folder, data, args.images)
    run, served = work / "run", work / "saved_models" / "images"

    assert kvae_cli(["train", "--data", str(folder), "--image-size", size, "--epochs", str(args.epochs),
                     "--out", str(run), "--overwrite", "--verbose", "0"]) == 0
    assert kvae_cli(["export", str(run), "--to", str(served)]) == 0
    version = served / str(kvae.export.existing_versions(served)[-1])

    files = sorted(folder.rglob("*.png"))[:4]
    png_bytes = tf.constant([f.read_bytes() for f in files])
    model = tf.saved_model.load(str(version))
    scores = model.signatures["score_image"](image_bytes=png_bytes)
    decoded = tf.stack([kvae.data.load_transform(run).load(str(f)) for f in files])
    on_pixels = model.signatures["score"](x=decoded)
    np.testing.assert_allclose(scores["log_likelihood"], on_pixels["log_likelihood"], rtol=1e-5)
    for f, value in zip(files, scores["log_likelihood"].numpy()):
        print(f"score_image {f.relative_to(folder)}: log p(x) ≈ {value:.1f} nats")
    return {"version": str(version), "log_likelihood": scores["log_likelihood"].numpy()}


if __name__ == "__main__":
    main()
