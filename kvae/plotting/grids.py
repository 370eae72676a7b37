"""Pictures of examples: tiled uint8 grids, exact-size PNGs, titled figures."""

import math

import numpy as np

from kvae import atomic


def _as_images(examples):
    """`[n, ...]` → `[n, h, w]` or `[n, h, w, 3]` in [0, 1] for imshow."""
    x = np.clip(np.asarray(examples, dtype=np.float32), 0.0, 1.0)
    if x.ndim == 4:
        return x[..., 0] if x.shape[-1] != 3 else x
    if x.ndim == 3:
        return x
    # Vectors: a square picture when the length is a square, else one row each.
    side = math.isqrt(x.shape[1])
    if side * side == x.shape[1]:
        return x.reshape(len(x), side, side)
    return x.reshape(len(x), 1, x.shape[1])


def tile(examples, columns=8, pad=1, value_range=(0.0, 1.0)):
    """Tiles examples into one uint8 picture `[height, width, channels]`.

    Each example is one cell; cells are separated by `pad` pixels of white.
    Values are mapped linearly from `value_range` to 0..255 (and clipped), so
    the same model output gives the same picture in a PNG and in TensorBoard.

    Args:
        examples: array `[n, h, w]`, `[n, h, w, c]` (c = 1 or 3) or `[n, d]`
            (square d becomes a square cell, else a strip of height 1).
        columns: int. Cells per row.
        pad: int. Pixels between cells and around the grid.
        value_range: pair of float. Values shown as black and as white.

    Example:

    >>> import numpy as np, kvae
    >>> kvae.plotting.tile(np.zeros((10, 28, 28, 1)), columns=8).shape
    (59, 233, 1)
    """
    low, high = value_range
    x = (np.asarray(examples, dtype=np.float32) - low) / (high - low)
    images = _as_images(x)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    n, h, w, c = images.shape
    columns = max(1, min(int(columns), n))
    rows = -(-n // columns)
    grid = np.ones((rows * (h + pad) + pad, columns * (w + pad) + pad, c), np.float32)
    for i, image in enumerate(images):
        top, left = pad + (i // columns) * (h + pad), pad + (i % columns) * (w + pad)
        grid[top : top + h, left : left + w] = image
    return np.round(grid * 255).astype(np.uint8)


def save_png(path, image):
    """Writes a uint8 picture `[height, width, 1 or 3]` to `path`, pixel for pixel.

    Written under a temporary name and renamed, so a reader never sees half a PNG.
    """
    import tensorflow as tf

    atomic.write_bytes(path, tf.io.encode_png(np.asarray(image, np.uint8)).numpy())


def save_grid(path, rows, titles=None, cell_inches=0.6):
    """Writes `rows` (a list of example arrays, one per grid row) to a PNG.

    Examples are drawn in grey (one channel) or colour (three); vectors of
    square length become square pictures, others one-pixel-high strips. The
    file is written under a temporary name and renamed, so a reader never sees
    half a PNG.

    Args:
        path: str. The `.png` to write.
        rows: list of arrays `[n, ...]`, all with the same n.
        titles: list of str or None. A label per row.
        cell_inches: float. Size of one picture.

    Example:

    >>> import numpy as np, kvae, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "grid.png")
    >>> kvae.plotting.save_grid(path, [np.zeros((4, 8, 8, 1))])
    >>> os.path.getsize(path) > 0
    True
    """
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state

    rows = [_as_images(r) for r in rows]
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    title_inches = 0.2 if titles else 0.0  # room above each row for its label
    fig = Figure(figsize=(n_cols * cell_inches, n_rows * (cell_inches + title_inches)))
    # One axes per row showing the row's pictures tiled (an axes per picture costs
    # about 30 ms each: two seconds for a grid of 64).
    axes = fig.subplots(n_rows, 1, squeeze=False)[:, 0]
    for i, row in enumerate(rows):
        ax = axes[i]
        ax.axis("off")
        if len(row) < n_cols:  # a short row: white cells on the right
            row = np.concatenate([row, np.ones((n_cols - len(row),) + row.shape[1:], row.dtype)])
        # White pixels between pictures, about matplotlib's wspace=0.05 of before (at least one).
        strip = tile(row, columns=n_cols, pad=max(1, round(0.03 * row.shape[2])))
        image = strip[..., 0] if strip.shape[-1] == 1 else strip
        ax.imshow(image, cmap="gray", vmin=0, vmax=255, aspect="auto", interpolation="nearest")
        if titles:
            ax.set_title(titles[i], fontsize=7, loc="left")
    row_inches = cell_inches + title_inches
    fig.subplots_adjust(
        hspace=title_inches / cell_inches if titles else 0.05,
        left=0, right=1, top=1 - title_inches / (n_rows * row_inches), bottom=0,
    )
    with atomic.replacing(path) as tmp:
        fig.savefig(tmp, dpi=100)


def save_samples(path, examples, columns=8):
    """Writes `examples` as a grid of `columns` pictures per row."""
    rows = [examples[i : i + columns] for i in range(0, len(examples), columns)]
    save_grid(path, rows)


def class_rows(num_classes, columns=8):
    """Labels for a grid with one row per class: `[num_classes * columns]`, class c filling row c.

    Example:

    >>> from kvae import plotting
    >>> plotting.class_rows(3, columns=2).tolist()
    [0, 0, 1, 1, 2, 2]
    """
    return np.repeat(np.arange(int(num_classes), dtype=np.int64), int(columns))
