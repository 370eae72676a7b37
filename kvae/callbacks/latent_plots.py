"""`LatentTraversal` and `LatentScatter`: pictures of the latent space while training."""

import numpy as np

from kvae import plotting
from kvae.callbacks.pictures import PictureCallback


class LatentTraversal(PictureCallback):
    """Every `every` epochs, what the decoder does across the latent space.

    With `latent_dim == 2`, the 2-D manifold: decoder means on a `grid_size ×
    grid_size` grid of prior quantiles (`kvae.plotting.manifold`), written as
    `manifold_epoch_NNNN.png`. Otherwise a traversal
    (`kvae.plotting.traversal`): one row per latent dimension, sweeping it
    over `values` with the others at 0, written as `traversal_epoch_NNNN.png`.
    When `x` is given, the rows are the `max_dims` dimensions whose posterior
    means vary most over `x` (the active ones first).

    Args:
        x: array or None. Examples that rank the dimensions by activity.
        every: int. Epochs between pictures.
        grid_size: int. Points per axis of the 2-D manifold.
        values: 1-D array. Values swept in a traversal.
        max_dims: int. Rows of a traversal.
        out_dir: str or None. Folder for the PNG files.
        log_dir: str or None. TensorBoard log folder.
        value_range: pair of float. Data values shown as black and white.

    Example:

    >>> import numpy as np, kvae, tempfile
    >>> vae = kvae.build_vae((8, 8, 1), latent_dim=2, hidden_units=16)
    >>> images = kvae.callbacks.LatentTraversal(grid_size=5, out_dir=tempfile.mkdtemp())
    >>> images.set_model(vae)
    >>> {name: image.shape for name, image in images.pictures(1).items()}
    {'manifold': (46, 46, 1)}
    """

    def __init__(
        self,
        x=None,
        every=1,
        grid_size=15,
        values=np.linspace(-3.0, 3.0, 9),
        max_dims=10,
        out_dir=None,
        log_dir=None,
        value_range=(0.0, 1.0),
    ):
        super().__init__(every=every, out_dir=out_dir, log_dir=log_dir)
        self.x = None if x is None else np.asarray(x, dtype=np.float32)
        self.grid_size = int(grid_size)
        self.values = np.asarray(values, np.float32)
        self.max_dims = int(max_dims)
        self.value_range = tuple(value_range)

    def pictures(self, epoch):
        if self.model.latent_dim == 2:
            examples = plotting.manifold(self.model, self.grid_size)
            return {"manifold": plotting.tile(examples, self.grid_size, value_range=self.value_range)}
        dims = None
        if self.x is not None:
            activity = np.asarray(self.model.embed(self.x)).var(axis=0)
            dims = list(np.argsort(-activity)[: self.max_dims])
        else:
            dims = list(range(min(self.model.latent_dim, self.max_dims)))
        examples = plotting.traversal(self.model, dims=dims, values=self.values)
        return {"traversal": plotting.tile(examples, len(self.values), value_range=self.value_range)}


class LatentScatter(PictureCallback):
    """Every `every` epochs, a scatter plot of the posterior means of `x`.

    The means μ(x) are projected on their two principal axes
    (`kvae.plotting.pca_2d`; a 2-D latent space is shown as it is) and
    coloured by `labels` when given. Written as `latent_epoch_NNNN.png`.

    Args:
        x: array `[n, *event_shape]`. Examples to place (a few thousand at most).
        labels: int array `[n]` or None.
        every: int. Epochs between pictures.
        class_names: list of str or None. Legend entries, indexed by label.
        out_dir: str or None. Folder for the PNG files.
        log_dir: str or None. TensorBoard log folder.

    Example:

    >>> import numpy as np, kvae, tempfile
    >>> vae = kvae.build_vae((8, 8, 1), latent_dim=4, hidden_units=16)
    >>> x = np.random.default_rng(0).uniform(size=(50, 8, 8, 1)).astype("float32")
    >>> scatter = kvae.callbacks.LatentScatter(x, labels=np.arange(50) % 3, out_dir=tempfile.mkdtemp())
    >>> scatter.set_model(vae)
    >>> scatter.pictures(1)["latent"].shape
    (500, 550, 3)
    """

    def __init__(self, x, labels=None, every=1, class_names=None, out_dir=None, log_dir=None):
        super().__init__(every=every, out_dir=out_dir, log_dir=log_dir)
        self.x = np.asarray(x, dtype=np.float32)
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (len(self.x),):
                raise ValueError(
                    f"`labels` must have shape ({len(self.x)},), one per example of `x`, "
                    f"received shape {labels.shape}"
                )
        self.labels = labels
        self.class_names = class_names

    def pictures(self, epoch):
        loc = np.asarray(self.model.embed(self.x))
        fig = plotting.latent_scatter(
            loc, self.labels, title=f"posterior means μ(x) after epoch {epoch}", class_names=self.class_names
        )
        return {"latent": plotting.figure_to_image(fig)}
