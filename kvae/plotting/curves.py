"""Training curves of a run: one panel per metric, train and validation."""


import numpy as np

from kvae import atomic

# Panels in this order when present in the history.
PANELS = ("loss", "reconstruction", "kl", "active_units", "beta", "free_bits")


def save_training_curves(path, history):
    """Plots a Keras history (`{metric: [value per epoch]}`) to a PNG.

    One panel per metric of `PANELS` present in `history`, with `val_<metric>`
    on the same axes; epochs are counted from 1.

    Args:
        path: str. The `.png` to write (atomically).
        history: dict of lists, e.g. `model.fit(...).history` or a CSVLogger file
            read back.

    Example:

    >>> import kvae, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "curves.png")
    >>> kvae.plotting.save_training_curves(path, {"loss": [3.0, 2.0], "val_loss": [3.5, 2.5]})
    ['loss']
    """
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state

    panels = [name for name in PANELS if name in history]
    if not panels:
        raise ValueError(f"`history` must hold at least one of {list(PANELS)}, received keys {sorted(history)}")
    fig = Figure(figsize=(3.2 * len(panels), 2.8), dpi=100)
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, name in zip(axes[0], panels):
        for key, style in ((name, "-"), (f"val_{name}", "--")):
            if key in history:
                values = np.asarray(history[key], dtype=float)
                ax.plot(np.arange(1, len(values) + 1), values, style, label="validation" if key != name else "train")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=7)
        if f"val_{name}" in history:
            ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic.replacing(path) as tmp:
        fig.savefig(tmp)
    return panels
