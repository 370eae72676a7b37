"""`kvae evaluate`: test −ELBO, KL, importance-sampled NLL and active units of a run.

The numbers are `kvae.evaluation.evaluate`'s: a model trained on a table
standardises inside (`kvae.preprocessing`), so they are nats of the raw rows.
"""

import kvae
from kvae.cli import sources


def run(args):
    run = kvae.RunFolder(args.run_dir)
    model, config = run.load()
    run.check_writable()  # before the evaluation, which can take minutes
    data = sources.open_data(config, args.data_dir)
    x, y = sources.test_examples(data, config.get("binarize", False), limit=args.max_examples)
    condition = y if model.conditional else None  # scores log p(x|y)
    result = kvae.evaluation.evaluate(model, x, args.iw_samples, args.batch_size, args.seed, verbose=1,
                                      condition=condition)
    with run.writing():
        run.write_json(kvae.run_folder.EVALUATION, result)
    print(
        f"test -ELBO {result['test_neg_elbo']:.2f} ± {result['test_neg_elbo_stderr']:.2f} nats | "
        f"IS-NLL (K={args.iw_samples}) {result['test_nll']:.2f} ± {result['test_nll_stderr']:.2f} nats "
        f"({result['test_nll_bits_per_dim']:.4f} bits/dim) | KL {result['test_kl']:.2f} | "
        f"active units {result['active_units']} of {model.latent_dim}\n"
        f"the NLL is {result['nll_meaning']}"
    )
    return result

