"""Pictures of a VAE: example grids, latent-space plots, training curves (PNG)."""

from kvae.plotting import hierarchy
from kvae.plotting.curves import save_training_curves
from kvae.plotting.grids import class_rows, save_grid, save_png, save_samples, tile
from kvae.plotting.latent import figure_to_image, latent_scatter, manifold, pca_2d, traversal

__all__ = [
    "class_rows",
    "figure_to_image",
    "hierarchy",
    "latent_scatter",
    "manifold",
    "pca_2d",
    "save_grid",
    "save_png",
    "save_samples",
    "save_training_curves",
    "tile",
    "traversal",
]
