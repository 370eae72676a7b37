"""`kvae sample`: a PNG grid of new examples from a trained run."""

import numpy as np

from kvae import plotting
from kvae.cli import run_dir as rd


def run(args):
    model, _ = rd.load_run(args.run_dir)
    samples = np.asarray(model.sample(args.n, seed=args.seed))
    plotting.save_samples(args.out, samples, columns=args.columns)
    print(f"wrote {args.n} samples to {args.out}")
