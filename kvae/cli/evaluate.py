"""`kvae evaluate`: test −ELBO, KL, importance-sampled NLL and active units of a run."""

import kvae
from kvae.cli import run_dir as rd


def run(args):
    model, config = rd.load_run(args.run_dir)
    data = kvae.data.load(config.get("data", "digits"), args.data_dir or config.get("data_dir"))
    x = evaluation_examples(data, config.get("binarize", False))[: args.max_examples]
    labels = data.y_test[: args.max_examples] if model.conditional else None  # scores log p(x|y)
    result = kvae.evaluation.evaluate(model, x, args.iw_samples, args.batch_size, args.seed, verbose=1,
                                      labels=labels)
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
    return kvae.data.binarize(data.x_test, seed=0) if binarize else data.x_test
