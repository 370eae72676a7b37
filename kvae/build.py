"""`build_vae`: a ready `VAE` from a data shape and a few hyper-parameters."""

from kvae import checks
from kvae import conditions
from kvae import likelihoods as likelihoods_lib
from kvae import posteriors as posteriors_lib
from kvae import priors as priors_lib
from kvae.model import VAE
from kvae.networks import ARCHITECTURES
from kvae.networks import conv
from kvae.networks import conv_ladder
from kvae.networks.conv import conv_decoder, conv_encoder
from kvae.networks.ladder import first_layer_decoder, mlp_ladder_encoder
from kvae.networks.mlp import mlp_decoder, mlp_encoder



def build_vae(
    input_shape,
    latent_dim,
    architecture="mlp",
    hidden_units=(400,),
    likelihood="bernoulli",
    beta=1.0,
    filters=None,
    seed=None,
    free_bits=0.0,
    name="vae",
    dtype=None,
    prior=None,
    posterior=None,
    objective="elbo",
    num_classes=None,
    condition_shape=None,
    preprocessing=None,
    condition=None,
):
    """Returns a built `kvae.VAE` with matching encoder and decoder.

    Args:
        input_shape: tuple of int. Shape of one example, e.g. `(28, 28, 1)`.
        latent_dim: int, or tuple of int for a hierarchical VAE. The size of
            z, > 0; or the sizes d₁ … d_L of L ≥ 2 latent layers, z₁ (nearest
            the data) first: a Ladder VAE (Sønderby et al., 2016) with the
            top-down prior `kvae.priors.TopDown`, the posterior
            `kvae.posteriors.Ladder`, a bottom-up encoder
            (`kvae.networks.mlp_ladder_encoder`) and a decoder p(x|z₁); the
            model's `latent_dim` is Σ d_l. With `architecture="conv"` the
            sizes are the channels of each layer's latent map, at 1/2, 1/4, …
            of the image's resolution (`kvae.networks.conv_ladder`), and
            `filters` gives each resolution's width.
        architecture: str. `"mlp"` or `"conv"` (images `(H, W, C)` only).
        hidden_units: int or tuple of int. Hidden `Dense` widths of the encoder;
            the decoder uses them reversed. For a hierarchy: one width per
            latent layer (or one for all), each used by two `Dense` layers of
            the bottom-up block below that layer and of the top-down
            network below it (Burda et al.'s two-layer model is
            `latent_dim=(100, 50), hidden_units=(200, 100)`).
        likelihood: str or `kvae.likelihoods.Likelihood`. p(x|z).
        filters: tuple of int or None. Conv filters of the encoder (decoder:
            reversed); None: (32, 64), or for a conv hierarchy 32 then 64 for
            every deeper layer.
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
            (see `kvae.VAE`). None: `"normal"` for both, or the hierarchy's
            `TopDown` and `Ladder` when `latent_dim` is a tuple.
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
    hidden_units = (hidden_units,) if isinstance(hidden_units, int) else tuple(hidden_units)
    if not hidden_units or any(not isinstance(u, int) or u <= 0 for u in hidden_units):
        raise ValueError(
            f"`hidden_units` must be positive integers, received: {hidden_units!r}"
        )
    input_shape = tuple(int(d) for d in input_shape)
    likelihood = likelihoods_lib.get(likelihood)
    params_shape = likelihood.params_shape(input_shape)
    condition = conditions.get(condition, num_classes, condition_shape)
    c_shape = condition.shape
    if isinstance(latent_dim, (list, tuple)):
        return _hierarchical(
            input_shape, latent_dim, architecture, hidden_units, filters, likelihood, params_shape, condition, dtype,
            prior=prior, posterior=posterior, beta=beta, seed=seed, free_bits=free_bits, name=name,
            objective=objective, preprocessing=preprocessing,
        )
    latent_dim = checks.positive_int(latent_dim, "latent_dim")
    posterior = posteriors_lib.get(posterior, dtype=dtype)
    params_size = sum(posterior.params_sizes(latent_dim))
    if architecture == "mlp":
        encoder = mlp_encoder(input_shape, latent_dim, hidden_units, dtype=dtype, params_size=params_size,
                              condition_shape=c_shape)
        decoder = mlp_decoder(latent_dim, params_shape, hidden_units[::-1], dtype=dtype, condition_shape=c_shape)
    else:
        filters = (32, 64) if filters is None else tuple(filters)
        encoder = conv_encoder(input_shape, latent_dim, filters, hidden_units, dtype=dtype, params_size=params_size,
                               condition_shape=c_shape)
        decoder = conv_decoder(latent_dim, params_shape, filters[::-1], hidden_units[::-1], dtype=dtype,
                               condition_shape=c_shape)
    return VAE(
        encoder, decoder, latent_dim, likelihood=likelihood, beta=beta, seed=seed,
        free_bits=free_bits, name=name, dtype=dtype, prior=prior or "normal", posterior=posterior, objective=objective,
        condition=condition, preprocessing=preprocessing,
    )


def _hierarchical(input_shape, sizes, architecture, hidden_units, filters, likelihood, params_shape, condition,
                  dtype, prior, posterior, **kwargs):
    # A Ladder VAE: the bottom-up encoder, the top-down prior, the ladder posterior and p(x|z₁).
    sizes = tuple(checks.positive_int(d, "latent_dim") for d in sizes)
    if len(sizes) < 2:
        raise ValueError(f"`latent_dim` must be an int or at least two layers' sizes, received: {sizes!r}")
    c_shape = condition.shape
    posterior = posteriors_lib.get(posterior or "ladder", dtype=dtype)
    if architecture == "conv":  # the sizes are channels of maps at 1/2, 1/4, ... of the image's resolution
        filters = (32,) + (64,) * (len(sizes) - 1) if filters is None else tuple(filters)
        if len(filters) != len(sizes):
            raise ValueError(f"`filters` must give one width per latent layer ({len(sizes)}), received: {filters!r}")
        conv.check_image_shape(input_shape)
        latent_dims = conv_ladder.latent_dims(input_shape, sizes)
        if tuple(posterior.params_sizes(sum(latent_dims))) != (sum(latent_dims),) * 2:
            raise ValueError(f"a conv hierarchy's encoder emits a location and a scale per latent dimension, so it "
                             f"takes the \"ladder\" or \"normal\" posterior (or an IAF with context_units=0), "
                             f"received the {type(posterior).__name__} posterior, whose parameters are "
                             f"{tuple(posterior.params_sizes(sum(latent_dims)))}")
        defaults = {"latent_dims": latent_dims, "networks": conv_ladder.conv_top_down(input_shape, sizes, filters,
                                                                                      dtype=dtype)}
        encoder = conv_ladder.conv_ladder_encoder(input_shape, sizes, filters, dtype=dtype, condition_shape=c_shape)
        decoder = conv_ladder.conv_first_layer_decoder(input_shape, sizes, filters, params_shape[-1], dtype=dtype,
                                                       condition_shape=c_shape)
    else:
        latent_dims = sizes
        if len(hidden_units) == 1:
            hidden_units = hidden_units * len(latent_dims)
        if len(hidden_units) != len(latent_dims):
            raise ValueError(
                f"`hidden_units` must give one width per latent layer ({len(latent_dims)}) or one for all, "
                f"received: {hidden_units!r}"
            )
        defaults = {"latent_dims": latent_dims, "hidden_units": hidden_units[1:]}
        encoder = mlp_ladder_encoder(input_shape, latent_dims, hidden_units, dtype=dtype, condition_shape=c_shape)
        sizes_needed = posterior.params_sizes(sum(latent_dims))
        if tuple(sizes_needed) != (sum(latent_dims),) * 2:  # a flow or full covariance: its own parameters
            encoder = mlp_encoder(input_shape, sum(latent_dims), hidden_units, dtype=dtype,
                                  params_size=sum(sizes_needed), condition_shape=c_shape)
        inner = mlp_decoder(latent_dims[0], params_shape, (hidden_units[0],) * 2, name="decoder_z1", dtype=dtype,
                            condition_shape=c_shape)
        decoder = first_layer_decoder(latent_dims, inner, dtype=dtype, condition_shape=c_shape)
    prior = priors_lib.get(prior or "top_down", **({} if prior else defaults), dtype=dtype)
    return VAE(encoder, decoder, sum(latent_dims), likelihood=likelihood, dtype=dtype, prior=prior,
               posterior=posterior, condition=condition, **kwargs)
