"""`kvae export`: publish a trained run as a versioned SavedModel for TF Serving."""

HELP = "Export a run's model as saved_models/NAME/<version>/ (SavedModel for TF Serving)."


def add_arguments(p):
    p.add_argument("run_dir", metavar="RUN_DIR", help="folder written by `kvae train`")
    p.add_argument("--to", required=True, metavar="BASE_DIR", help="model folder, e.g. saved_models/digits")
    p.add_argument("--version", type=int, default=None, help="version number (default: next free)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing version")
    p.add_argument("--score-samples", type=int, default=100, help="importance samples of the score signature")


def run(args):
    from kvae.cli import run_dir as rd
    from kvae.export import export_saved_model

    model, _ = rd.load_run(args.run_dir)
    path = export_saved_model(
        model, args.to, version=args.version, overwrite=args.overwrite, score_samples=args.score_samples
    )
    print(f"exported {args.run_dir} to {path}")
    return path
