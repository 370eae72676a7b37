"""`kvae export`: publish a trained run as a versioned SavedModel for TF Serving."""

import kvae
from kvae.export import export_saved_model


def run(args):
    run = kvae.RunFolder(args.run_dir)
    model, _ = run.load()  # with a table's standardisation inside, also for runs of kvae 0.1
    path = export_saved_model(
        model, args.to, version=args.version, overwrite=args.overwrite, score_samples=args.score_samples,
        transform=run.served_transform(),  # the image signatures' decoding
        max_batch=args.max_batch, max_score_samples=args.max_score_samples, max_score_rows=args.max_score_rows,
    )
    print(f"exported {args.run_dir} to {path}")
    return path
