"""`kvae export`: publish a trained run as a versioned SavedModel for TF Serving."""

from kvae.cli import run_dir as rd
from kvae.data import load_transform
from kvae.export import export_saved_model


def run(args):
    model, _ = rd.load_run(args.run_dir)
    path = export_saved_model(
        model, args.to, version=args.version, overwrite=args.overwrite, score_samples=args.score_samples,
        transform=load_transform(args.run_dir),  # image signatures, or the table's standardisation
    )
    print(f"exported {args.run_dir} to {path}")
    return path
