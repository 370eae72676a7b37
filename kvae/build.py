"""`build_vae`: a ready `VAE` from a data shape and a few hyper-parameters."""

from kvae import checks
from kvae import conditions
from kvae import likelihoods as likelihoods_lib
from kvae import posteriors as posteriors_lib
from kvae.model import VAE
from kvae.networks import ARCHITECTURES
from kvae.networks.conv import conv_decoder, conv_encoder
from kvae.networks.mlp import mlp_decoder, mlp_encoder



def build_vae(
    input_shape,
    latent_dim,
    architecture="mlp",
    hidden_units=(400,),
    likelihood="bernoulli",
    beta=1.0,
    filters=(32, 64),
    seed=None,
    free_bits=0.0,
    name="vae",
    dtype=None,
    prior="normal",
    posterior="normal",
    objective="elbo",
    num_classes=None,
    condition_shape=None,
    preprocessing=None,
    condition=None,
):
    """Returns a built `kvae.VAE` with matching encoder and decoder.

    Args:
        input_shape: tuple of int. Shape of one example, e.g. `(28, 28, 1)`.
        latent_dim: int. Size of z, > 0.
        architecture: str. `"mlp"` or `"conv"` (images `(H, W, C)` only).
        hidden_units: int or tuple of int. Hidden `Dense` widths of the encoder;
            the decoder uses them reversed.
        likelihood: str or `kvae.likelihoods.Likelihood`. p(x|z).
        filters: tuple of int. Conv filters of the encoder (decoder: reversed).
        seed: int or None. Seed of the model's sampling noise.
        beta: float or `kvae.schedules.Schedule`. KL weight, >= 0.
        free_bits: float or `kvae.schedules.Schedule`. Free-bits floor λ in
            nats per latent dimension, >= 0.
        name: str. Model name.
        dtype: str, `keras.DTypePolicy` or None. Dtype policy of the model and
            its networks, e.g. `"mixed_bfloat16"` (None: Keras' global
            policy). The networks compute in it; distributions, log-probs and
            metrics stay float32 (see `kvae.VAE`).
        prior, posterior, objective: the model's parts, by name or instance
            (see `kvae.VAE`).
        condition: a `kvae.conditions` part (or its name) making a
            conditional VAE whose networks also take the condition's tensor
            (see `kvae.VAE`); `num_classes=C` and `condition_shape=S` are
            short for `ClassLabel(C)` and `Vector(S)`.
        preprocessing: a fixed bijector from the data to the networks'
            inputs (`kvae.preprocessing`, e.g. a table's
            `kvae.data.TableSource.preprocessing()`), or None.

    Example:

    >>> import math, kvae
    >>> vae = kvae.build_vae((28, 28, 1), latent_dim=20, hidden_units=400)
    >>> vae.built, sum(math.prod(w.shape) for w in vae.trainable_weights)
    (True, 652824)
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"`architecture` must be one of {list(ARCHITECTURES)}, received: {architecture!r}"
        )
    latent_dim = checks.positive_int(latent_dim, "latent_dim")
    hidden_units = (hidden_units,) if isinstance(hidden_units, int) else tuple(hidden_units)
    if not hidden_units or any(not isinstance(u, int) or u <= 0 for u in hidden_units):
        raise ValueError(
            f"`hidden_units` must be positive integers, received: {hidden_units!r}"
        )
    input_shape = tuple(int(d) for d in input_shape)
    likelihood = likelihoods_lib.get(likelihood)
    params_shape = likelihood.params_shape(input_shape)
    posterior = posteriors_lib.get(posterior, dtype=dtype)
    condition = conditions.get(condition, num_classes, condition_shape)
    c_shape = condition.shape
    params_size = sum(posterior.params_sizes(latent_dim))
    if architecture == "mlp":
        encoder = mlp_encoder(input_shape, latent_dim, hidden_units, dtype=dtype, params_size=params_size,
                              condition_shape=c_shape)
        decoder = mlp_decoder(latent_dim, params_shape, hidden_units[::-1], dtype=dtype, condition_shape=c_shape)
    else:
        filters = tuple(filters)
        encoder = conv_encoder(input_shape, latent_dim, filters, hidden_units, dtype=dtype, params_size=params_size,
                               condition_shape=c_shape)
        decoder = conv_decoder(latent_dim, params_shape, filters[::-1], hidden_units[::-1], dtype=dtype,
                               condition_shape=c_shape)
    return VAE(
        encoder, decoder, latent_dim, likelihood=likelihood, beta=beta, seed=seed,
        free_bits=free_bits, name=name, dtype=dtype, prior=prior, posterior=posterior, objective=objective,
        condition=condition, preprocessing=preprocessing,
    )
