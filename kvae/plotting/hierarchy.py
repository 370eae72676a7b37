"""Pictures of a hierarchical VAE: samples at several temperatures, and what each latent layer controls."""

import numpy as np


def temperature_samples(model, temperatures=(0.6, 0.8, 1.0), columns=8, seed=0, condition=None):
    """Decoded means of the same prior draws with their noise scaled by each temperature T (ε → T·ε).

    NVAE's and VDVAE's picture: lower T trades diversity for typical
    examples. Row r uses `temperatures[r]`; column j the same ε everywhere.

    Args:
        model: `kvae.VAE` whose prior is a map of standard normal noise
            (`kvae.priors.Prior.from_noise`: the normal and top-down priors).
        temperatures: tuple of float. One row each.
        columns: int. Draws per row.
        seed: int. Seed of the draws.
        condition: a conditional VAE's condition, the same for every picture.

    Returns:
        Array `[len(temperatures) * columns, *event_shape]`, row by row.

    Example:

    >>> import kvae
    >>> vae = kvae.build_vae((8, 8, 1), latent_dim=(4, 2), hidden_units=16)
    >>> kvae.plotting.hierarchy.temperature_samples(vae, columns=3).shape
    (9, 8, 8, 1)
    """
    epsilon = np.random.default_rng(seed).standard_normal((columns, model.latent_dim)).astype("float32")
    noise = np.concatenate([t * epsilon for t in temperatures])
    return _decode(model, noise, condition)


def layer_variations(model, columns=8, seed=0, condition=None):
    """What each latent layer controls: one row per layer, top first, resampling that layer's noise alone.

    Every picture shares one draw of the noise of all layers; in the row of
    layer l, column j replaces layer l's noise with a fresh draw j. The layers
    below follow through their conditionals; the layers above stay put. Top
    rows change the overall shape, lower rows the details, when the upper
    layers are in use (compare `active_units_z{l}`).

    Returns:
        Array `[L * columns, *event_shape]`, the top layer's row first.

    Example:

    >>> import kvae
    >>> vae = kvae.build_vae((8, 8, 1), latent_dim=(4, 2), hidden_units=16)
    >>> kvae.plotting.hierarchy.layer_variations(vae, columns=3).shape
    (6, 8, 8, 1)
    """
    rng = np.random.default_rng(seed)
    base = rng.standard_normal(model.latent_dim).astype("float32")
    bounds = np.concatenate([[0], np.cumsum(model.latent_layers)])
    rows = []
    for l in reversed(range(len(model.latent_layers))):
        noise = np.tile(base, (columns, 1))
        noise[:, bounds[l]:bounds[l + 1]] = rng.standard_normal((columns, model.latent_layers[l]))
        rows.append(noise)
    return _decode(model, np.concatenate(rows), condition)


def _decode(model, noise, condition):
    z = model.prior_layer.from_noise(noise)
    return np.asarray(model.decode(z, condition=model.condition.per_example(condition, len(noise))).mean())
