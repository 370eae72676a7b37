"""Latent-space pictures: 2-D manifold, per-dimension traversals, PCA scatter of means."""

import io

import numpy as np


def manifold(model, size=15, coverage=0.95, condition=None):
    """Decoded means on a `size × size` grid of z, for a model with `latent_dim == 2`.

    The grid points are the standard-normal quantiles of evenly spaced
    probabilities covering the central `coverage` of each axis (the figure of
    Kingma & Welling, 2014), so equal areas of the picture hold equal prior
    mass. Row i has z₂ decreasing, column j z₁ increasing.

    Args:
        model: `kvae.VAE` with `latent_dim == 2`.
        size: int. Points per axis.
        coverage: float in (0, 1). Prior mass spanned by each axis.
        condition: a conditional VAE's condition (e.g. one class id), the
            same for every point.

    Returns:
        Array `[size * size, *event_shape]`, row by row; tile with `columns=size`.

    Example:

    >>> import kvae
    >>> vae = kvae.build_vae((8, 8, 1), latent_dim=2, hidden_units=16)
    >>> kvae.plotting.manifold(vae, size=5).shape
    (25, 8, 8, 1)
    """
    import tensorflow as tf

    if model.latent_dim != 2:
        raise ValueError(
            f"`model` must have latent_dim == 2 for a manifold plot, received latent_dim={model.latent_dim}; "
            "use kvae.plotting.traversal"
        )
    tail = (1.0 - coverage) / 2
    values = tf.math.ndtri(np.linspace(tail, 1.0 - tail, int(size)).astype(np.float32)).numpy()
    z1, z2 = np.meshgrid(values, values[::-1])
    z = np.stack([z1.ravel(), z2.ravel()], axis=1)
    return np.asarray(model.decode(z, condition=model.condition.per_example(condition, len(z))).mean())


def traversal(model, center=None, dims=None, values=np.linspace(-3.0, 3.0, 9), condition=None):
    """Decoded means as one latent dimension at a time sweeps `values`.

    Row r varies z[dims[r]] over `values` with the other coordinates held at
    `center` (default: the prior mean, 0).

    Args:
        model: `kvae.VAE`.
        center: array `[latent_dim]` or None.
        dims: list of int or None (default: all dimensions, at most 10).
        values: 1-D array of the swept values.
        condition: a conditional VAE's condition (e.g. one class id), the
            same for every point.

    Returns:
        Array `[len(dims) * len(values), *event_shape]`; tile with
        `columns=len(values)`.

    Example:

    >>> import kvae
    >>> vae = kvae.build_vae((8, 8, 1), latent_dim=4, hidden_units=16)
    >>> kvae.plotting.traversal(vae, dims=[0, 3], values=[-1.0, 0.0, 1.0]).shape
    (6, 8, 8, 1)
    """
    latent_dim = model.latent_dim
    center = np.zeros(latent_dim, np.float32) if center is None else np.asarray(center, np.float32)
    dims = list(range(min(latent_dim, 10))) if dims is None else [int(d) for d in dims]
    values = np.asarray(values, np.float32)
    z = np.repeat(center[np.newaxis], len(dims) * len(values), axis=0)
    for r, d in enumerate(dims):
        z[r * len(values) : (r + 1) * len(values), d] = values
    return np.asarray(model.decode(z, condition=model.condition.per_example(condition, len(z))).mean())


def pca_2d(points):
    """Projects `[n, d]` points on their two principal axes.

    Returns `(projected [n, 2], explained_variance_ratio [2])`. With d <= 2
    the points are returned as they are (padded with zeros for d = 1), so a
    2-D latent space is shown in its own coordinates.

    Example:

    >>> import numpy as np, kvae
    >>> points = np.random.default_rng(0).normal(size=(100, 5)) * [5, 2, 0.1, 0.1, 0.1]
    >>> projected, ratio = kvae.plotting.pca_2d(points)
    >>> projected.shape, bool(ratio[0] > ratio[1] > 0.1)
    ((100, 2), True)
    """
    points = np.asarray(points, np.float64)
    variance = points.var(axis=0)
    if points.shape[1] <= 2:
        projected = np.zeros((len(points), 2))
        projected[:, : points.shape[1]] = points
        total = variance.sum() or 1.0
        return projected, np.pad(variance / total, (0, 2 - points.shape[1]))
    from sklearn.decomposition import PCA

    pca = PCA(n_components=2, svd_solver="full").fit(points)
    return pca.transform(points), pca.explained_variance_ratio_


def latent_scatter(loc, labels=None, title=None, class_names=None):
    """A matplotlib figure of posterior means, PCA-projected to 2-D, coloured by label.

    Args:
        loc: array `[n, latent_dim]` of posterior means μ(x).
        labels: int array `[n]` or None.
        title: str or None.
        class_names: list of str or None. Legend entries, indexed by label.

    Returns:
        A `matplotlib.figure.Figure` (save it, or `figure_to_image` it).
    """
    import matplotlib
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state

    loc = np.asarray(loc)
    projected, ratio = pca_2d(loc)
    fig = Figure(figsize=(5.5, 5), dpi=100)
    ax = fig.subplots()
    if labels is None:
        ax.scatter(projected[:, 0], projected[:, 1], s=4, alpha=0.6)
    else:
        labels = np.asarray(labels)
        cmap = matplotlib.colormaps["tab10"]
        for i, label in enumerate(np.unique(labels)):
            chosen = labels == label
            name = class_names[int(label)] if class_names is not None else str(label)
            ax.scatter(projected[chosen, 0], projected[chosen, 1], s=4, alpha=0.6, color=cmap(i % 10), label=name)
        ax.legend(markerscale=3, fontsize=7, loc="best", framealpha=0.8)
    if loc.shape[1] <= 2:
        ax.set_xlabel("z1")
        ax.set_ylabel("z2")
    else:
        ax.set_xlabel(f"PC 1 ({ratio[0]:.0%} of variance)")
        ax.set_ylabel(f"PC 2 ({ratio[1]:.0%} of variance)")
    ax.set_title(title or f"posterior means μ(x), {len(loc)} examples", fontsize=9)
    fig.tight_layout()
    return fig


def figure_to_image(fig):
    """Renders a matplotlib figure to a uint8 RGB array `[height, width, 3]`."""
    import tensorflow as tf

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return tf.io.decode_png(buffer.getvalue(), channels=3).numpy()
