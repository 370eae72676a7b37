"""`kvae evaluate`: test −ELBO, KL, importance-sampled NLL and active units of a run."""

from kvae.cli import arguments
from kvae.cli import run_dir as rd

HELP = "Report test -ELBO, KL, importance-sampled NLL (nats, bits/dim) and active units of a run."


def add_arguments(p):
    p.add_argument("run_dir", metavar="RUN_DIR", help="folder written by `kvae train`")
    p.add_argument("--iw-samples", type=arguments.positive_int, default=1000, help="importance samples K per example (default 1000)")
    p.add_argument("--data-dir", default=None, help="override the run's Fashion-MNIST folder")
    p.add_argument("--batch-size", type=arguments.positive_int, default=256)
    p.add_argument("--max-examples", type=arguments.positive_int, default=None, help="evaluate the first N test examples only")
    p.add_argument("--seed", type=int, default=0)


def run(args):
    import kvae

    model, config = rd.load_run(args.run_dir)
    data = kvae.data.load(config.get("data", "digits"), args.data_dir or config.get("data_dir"))
    x = evaluation_examples(data, config.get("binarize", False))[: args.max_examples]
    result = kvae.evaluation.evaluate(model, x, args.iw_samples, args.batch_size, args.seed, verbose=1)
    rd.write_json(f"{args.run_dir}/{rd.EVALUATION}", result)
    print(
        f"test -ELBO {result['test_neg_elbo']:.2f} ± {result['test_neg_elbo_stderr']:.2f} nats | "
        f"IS-NLL (K={args.iw_samples}) {result['test_nll']:.2f} ± {result['test_nll_stderr']:.2f} nats "
        f"({result['test_nll_bits_per_dim']:.4f} bits/dim) | KL {result['test_kl']:.2f} | "
        f"active units {result['active_units']} of {model.latent_dim}"
    )
    return result


def evaluation_examples(data, binarize):
    """The test set a run is scored on: binarised once (seed 0) if it trained on binarised data."""
    import kvae

    return kvae.data.binarize(data.x_test, seed=0) if binarize else data.x_test
