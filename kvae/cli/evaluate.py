"""`kvae evaluate`: test −ELBO, KL, importance-sampled NLL and active units of a run."""

import math

from kvae.cli import run_dir as rd

HELP = "Report test -ELBO, KL, importance-sampled NLL (nats, bits/dim) and active units of a run."


def add_arguments(p):
    p.add_argument("run_dir", metavar="RUN_DIR", help="folder written by `kvae train`")
    p.add_argument("--iw-samples", type=int, default=1000, help="importance samples K per example (default 1000)")
    p.add_argument("--data-dir", default=None, help="override the run's Fashion-MNIST folder")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--max-examples", type=int, default=None, help="evaluate the first N test examples only")
    p.add_argument("--seed", type=int, default=0)


def run(args):
    import numpy as np

    import kvae

    if args.iw_samples < 1:
        raise ValueError(f"--iw-samples must be an integer >= 1, received: {args.iw_samples}")
    if args.max_examples is not None and args.max_examples < 1:
        raise ValueError(f"--max-examples must be an integer >= 1, received: {args.max_examples}")
    model, config = rd.load_run(args.run_dir)
    x = load_test_examples(config, args.data_dir)[: args.max_examples]
    result = evaluate(model, x, args.iw_samples, args.batch_size, args.seed)
    rd.write_json(f"{args.run_dir}/{rd.EVALUATION}", result)
    print(
        f"test -ELBO {result['test_neg_elbo']:.2f} ± {result['test_neg_elbo_stderr']:.2f} nats | "
        f"IS-NLL (K={args.iw_samples}) {result['test_nll']:.2f} ± {result['test_nll_stderr']:.2f} nats "
        f"({result['test_nll_bits_per_dim']:.4f} bits/dim) | KL {result['test_kl']:.2f} | "
        f"active units {result['active_units']} of {model.latent_dim}"
    )
    return result


def load_test_examples(config, data_dir=None):
    """The run's test set, binarised once (seed 0) if the run trained on binarised data."""
    import kvae

    data = kvae.data.load(config.get("data", "digits"), data_dir or config.get("data_dir"))
    return kvae.data.binarize(data.x_test, seed=0) if config.get("binarize") else data.x_test


def evaluate(model, x, iw_samples=1000, batch_size=256, seed=0):
    """Test-set bounds of a model, in nats and bits/dim, with standard errors over examples.

    - `test_neg_elbo`, `test_reconstruction`, `test_kl`: the ELBO's terms, one
      posterior sample per example (the KL in closed form);
    - `test_nll`: importance-sampled NLL with K = `iw_samples`
      (`VAE.log_likelihood`), ≤ −ELBO in expectation;
    - `active_units`: latent dimensions with Var_x(μ_j(x)) > 0.01.
    """
    import numpy as np

    import kvae

    reconstruction, kl = [], []
    units = kvae.metrics.ActiveUnits(model.latent_dim)
    for start in range(0, len(x), batch_size):
        batch = x[start : start + batch_size]
        r, k = model.elbo_terms(batch)
        reconstruction.append(r.numpy())
        kl.append(k.numpy())
        units.update_state(model.encode(batch).mean())
    reconstruction, kl = np.concatenate(reconstruction), np.concatenate(kl)
    neg_elbo = reconstruction + kl
    nll = -model.log_likelihood(x, num_samples=iw_samples, seed=seed, verbose=1)
    bits = int(np.prod(x.shape[1:])) * math.log(2)
    return {
        "test_examples": int(len(x)),
        "test_neg_elbo": float(neg_elbo.mean()),
        "test_neg_elbo_stderr": _stderr(neg_elbo),
        "test_neg_elbo_bits_per_dim": float(neg_elbo.mean() / bits),
        "test_reconstruction": float(reconstruction.mean()),
        "test_kl": float(kl.mean()),
        "test_kl_stderr": _stderr(kl),
        "iw_samples": int(iw_samples),
        "test_nll": float(nll.mean()),
        "test_nll_stderr": _stderr(nll),
        "test_nll_bits_per_dim": float(nll.mean() / bits),
        "active_units": int(units.result()),
        "latent_dim": int(model.latent_dim),
    }


def _stderr(values):
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0
