"""`kvae evaluate`: test −ELBO, KL, importance-sampled NLL and active units of a run."""

import math

import kvae
from kvae.cli import sources

# Bounds in nats: shifted by the standardisation's log-Jacobian to be densities of the raw rows.
_DENSITY_KEYS = ("test_neg_elbo", "test_reconstruction", "test_nll")


def run(args):
    run = kvae.RunFolder(args.run_dir)
    model, config = run.load()
    run.check_writable()  # before the evaluation, which can take minutes
    data = sources.open_data(config, args.data_dir)
    x, y = sources.test_examples(data, config.get("binarize", False), limit=args.max_examples)
    labels = y if model.conditional else None  # scores log p(x|y)
    result = kvae.evaluation.evaluate(model, x, args.iw_samples, args.batch_size, args.seed, verbose=1,
                                      labels=labels)
    transform = run.transform()
    if isinstance(transform, kvae.data.Standardization):
        result = raw_units(result, transform, model)
    with run.writing():
        run.write_json(kvae.run_folder.EVALUATION, result)
    print(
        f"test -ELBO {result['test_neg_elbo']:.2f} ± {result['test_neg_elbo_stderr']:.2f} nats | "
        f"IS-NLL (K={args.iw_samples}) {result['test_nll']:.2f} ± {result['test_nll_stderr']:.2f} nats "
        f"({result['test_nll_bits_per_dim']:.4f} bits/dim) | KL {result['test_kl']:.2f} | "
        f"active units {result['active_units']} of {model.latent_dim}"
    )
    return result


def raw_units(result, transform, model):
    """`evaluate`'s bounds on standardised rows, restated as densities of the raw rows.

    log p(x_raw) = log p(x_std) + log|det ∂x_std/∂x_raw| = log p(x_std) − Σ log σ_j,
    so every negative log-density grows by Σ log σ_j; the KL is unchanged.
    """
    shift = -transform.log_det_jacobian
    result = dict(result)
    for key in _DENSITY_KEYS:
        result[key] += shift
    bits = len(transform.mean) * math.log(2)
    result["test_neg_elbo_bits_per_dim"] = result["test_neg_elbo"] / bits
    result["test_nll_bits_per_dim"] = result["test_nll"] / bits
    result["standardised_log_det_jacobian"] = transform.log_det_jacobian
    return result
