"""`ImageLogger`: sample grids and reconstructions while training."""

import numpy as np

from kvae import deprecation
from kvae import plotting
from kvae.callbacks.pictures import PictureCallback


class ImageLogger(PictureCallback):
    """Every `every` epochs, pictures of samples and reconstructions.

    - `samples`: the decoder means at `num_samples` fixed prior draws (the same
      z in every epoch, from `seed`), so a row of pictures shows one z over
      training;
    - `reconstructions`: rows alternating the fixed inputs `x` and their
      reconstructions (decoder mean at the posterior mean).

    Written to `out_dir/samples_epoch_0005.png`, ... and/or as TensorBoard
    image summaries in `log_dir/images` (see `PictureCallback`). Each PNG is
    the tiled grid, pixel for pixel: `columns` cells of the example size, with
    one pixel between cells.

    Args:
        x: array `[n, *event_shape]`. Inputs to reconstruct (n small: 8–32).
        every: int. Epochs between pictures.
        num_samples: int. Prior draws in the sample grid.
        columns: int. Cells per row.
        seed: int. Seed of the prior draws.
        out_dir: str or None. Folder for the PNG files.
        log_dir: str or None. TensorBoard log folder.
        value_range: pair of float. Data values shown as black and white.
        condition: a conditional VAE's conditions for `x` (its samples are
            drawn one row per class, or at its conditions' `example` values).

    Example:

    >>> import numpy as np, keras, kvae, tempfile
    >>> vae = kvae.build_vae((8, 8, 1), latent_dim=2, hidden_units=16)
    >>> vae.compile(optimizer="adam")
    >>> x = np.random.default_rng(0).uniform(size=(32, 8, 8, 1)).astype("float32")
    >>> out = tempfile.mkdtemp()
    >>> logger = kvae.callbacks.ImageLogger(x[:4], num_samples=8, out_dir=out)
    >>> _ = vae.fit(x, epochs=1, verbose=0, callbacks=[logger])
    >>> sorted(p.name for p in logger.out_dir.iterdir())
    ['reconstructions_epoch_0001.png', 'samples_epoch_0001.png']
    """

    @deprecation.renamed("labels", "condition")
    def __init__(
        self,
        x,
        every=1,
        num_samples=64,
        columns=8,
        seed=0,
        out_dir=None,
        log_dir=None,
        value_range=(0.0, 1.0),
        condition=None,
    ):
        super().__init__(every=every, out_dir=out_dir, log_dir=log_dir)
        self.condition = None if condition is None else np.asarray(condition)
        self.x = np.asarray(x, dtype=np.float32)
        if self.x.ndim < 2 or len(self.x) == 0:
            raise ValueError(f"`x` must be a non-empty batch of examples [n, ...], received shape {self.x.shape}")
        self.num_samples = int(num_samples)
        self.columns = int(columns)
        self.seed = int(seed)
        self.value_range = tuple(value_range)

    def pictures(self, epoch):
        grid = self.model.condition.grid(self.columns)  # a conditional VAE: one row per class (or condition)
        grid = None if grid is None else grid[: self.num_samples]
        samples = np.asarray(self.model.sample(self.num_samples if grid is None else len(grid), seed=self.seed,
                                               condition=grid))
        reconstructions = np.asarray(self.model.reconstruct(self.x, condition=self.condition))
        pairs = []
        for start in range(0, len(self.x), self.columns):
            pairs += [self.x[start : start + self.columns], reconstructions[start : start + self.columns]]
        columns = min(self.columns, len(self.x))
        padded = [np.concatenate([p, np.full((columns - len(p),) + p.shape[1:], self.value_range[1], np.float32)])
                  for p in pairs]
        return {
            "samples": plotting.tile(samples, self.columns, value_range=self.value_range),
            "reconstructions": plotting.tile(np.concatenate(padded), columns, value_range=self.value_range),
        }
