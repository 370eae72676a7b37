"""`kvae sample`: a PNG grid of new examples from a trained run."""

import numpy as np

import kvae
from kvae import plotting


def run(args):
    model = kvae.RunFolder(args.run_dir).load_model()
    labels, columns = None, args.columns
    if args.label is not None:
        if not model.conditional:
            raise ValueError(f"--label needs a conditional run (kvae train --conditional); {args.run_dir!r} is not")
        if args.label >= model.num_classes:
            raise ValueError(f"--label must be a class in [0, {model.num_classes}), received: {args.label}")
        labels = np.full(args.n, args.label, np.int64)
    elif model.conditional:  # one row per class, `n` samples in all
        columns = max(1, -(-args.n // model.num_classes))
        labels = model.condition.grid(columns)[: args.n]
    samples = np.asarray(model.sample(args.n, seed=args.seed, condition=labels))
    plotting.save_samples(args.out, samples, columns=columns)
    rows = f" (one row per class, {columns} per row)" if labels is not None and args.label is None else ""
    print(f"wrote {args.n} samples to {args.out}{rows}")
