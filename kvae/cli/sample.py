"""`kvae sample`: a PNG grid of new examples from a trained run."""

from kvae.cli import arguments

HELP = "Draw examples from a trained run's prior and save them as a PNG grid."


def add_arguments(p):
    p.add_argument("run_dir", metavar="RUN_DIR", help="folder written by `kvae train`")
    p.add_argument("--n", type=arguments.positive_int, default=64, help="number of samples (default 64)")
    p.add_argument("--out", default="samples.png", help="PNG file to write")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--columns", type=arguments.positive_int, default=8)


def run(args):
    import numpy as np

    from kvae import plotting
    from kvae.cli import run_dir as rd

    if not str(args.out).endswith(".png"):
        raise ValueError(f"--out must be a .png file, received: {args.out!r}")
    model, _ = rd.load_run(args.run_dir)
    samples = np.asarray(model.sample(args.n, seed=args.seed))
    plotting.save_samples(args.out, samples, columns=args.columns)
    print(f"wrote {args.n} samples to {args.out}")
