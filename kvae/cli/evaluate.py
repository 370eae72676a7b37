"""`kvae evaluate`: test −ELBO and importance-sampled NLL of a trained run."""

import math

from kvae.cli import run_dir as rd

HELP = "Report test -ELBO and importance-sampled NLL (nats, bits/dim) of a run."


def add_arguments(p):
    p.add_argument("run_dir", metavar="RUN_DIR", help="folder written by `kvae train`")
    p.add_argument("--iw-samples", type=int, default=1000, help="importance samples K per example (default 1000)")
    p.add_argument("--data-dir", default=None, help="override the run's Fashion-MNIST folder")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)


def run(args):
    import numpy as np

    import kvae

    if args.iw_samples < 1:
        raise ValueError(f"--iw-samples must be an integer >= 1, received: {args.iw_samples}")
    model, config = rd.load_run(args.run_dir)
    data = kvae.data.load(config.get("data", "digits"), args.data_dir or config.get("data_dir"))
    x = data.x_test
    test = model.evaluate(kvae.data.make_dataset(x, args.batch_size), return_dict=True, verbose=0)
    log_px = model.log_likelihood(x, num_samples=args.iw_samples, seed=args.seed, verbose=1)
    nll = -log_px
    dims = int(np.prod(x.shape[1:]))
    result = {
        "test_examples": int(len(x)),
        "test_neg_elbo": -test["elbo"],
        "test_reconstruction": test["reconstruction"],
        "test_kl": test["kl"],
        "iw_samples": args.iw_samples,
        "test_nll": float(nll.mean()),
        "test_nll_stderr": float(nll.std(ddof=1) / math.sqrt(len(nll))) if len(nll) > 1 else 0.0,
        "test_nll_bits_per_dim": float(nll.mean() / (dims * math.log(2))),
    }
    rd.write_json(f"{args.run_dir}/{rd.EVALUATION}", result)
    print(
        f"test -ELBO {result['test_neg_elbo']:.2f} nats | "
        f"IS-NLL (K={args.iw_samples}) {result['test_nll']:.2f} ± {result['test_nll_stderr']:.2f} nats "
        f"({result['test_nll_bits_per_dim']:.4f} bits/dim) | KL {result['test_kl']:.2f}"
    )
    return result
