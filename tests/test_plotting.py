"""kvae.plotting: pictures without global Matplotlib state, PCA from scikit-learn."""

import matplotlib
import numpy as np
import pytest

import kvae


def test_plotting_leaves_matplotlibs_global_backend_alone(tmp_path):
    before = matplotlib.get_backend()
    matplotlib.use("svg")  # whatever the caller chose must survive kvae's pictures
    try:
        kvae.plotting.save_grid(tmp_path / "grid.png", [np.zeros((3, 4, 4, 1))])
        kvae.plotting.save_training_curves(tmp_path / "curves.png", {"loss": [2.0, 1.0]})
        image = kvae.plotting.figure_to_image(kvae.plotting.latent_scatter(np.random.default_rng(0).normal(size=(20, 3))))
        assert matplotlib.get_backend() == "svg"
        assert image.shape == (500, 550, 3) and (tmp_path / "grid.png").stat().st_size > 0
    finally:
        matplotlib.use(before)


def test_pca_2d_projects_on_the_principal_axes():
    from sklearn.decomposition import PCA

    points = np.random.default_rng(0).normal(size=(300, 4)) @ np.diag([4.0, 2.0, 0.1, 0.1])
    projected, ratio = kvae.plotting.pca_2d(points)
    reference = PCA(n_components=4).fit(points).explained_variance_ratio_
    np.testing.assert_allclose(ratio, reference[:2], rtol=1e-6)
    np.testing.assert_allclose(np.var(projected, axis=0, ddof=1), PCA(4).fit(points).explained_variance_[:2], rtol=1e-6)
    # Two dimensions or fewer: the latent space in its own coordinates.
    two = np.random.default_rng(1).normal(size=(10, 2))
    np.testing.assert_array_equal(kvae.plotting.pca_2d(two)[0], two)
    assert kvae.plotting.pca_2d(two[:, :1])[0].shape == (10, 2)


@pytest.mark.parametrize("bad", [{}, {"val_elbo": [1.0]}])
def test_curves_need_a_known_metric(tmp_path, bad):
    with pytest.raises(ValueError, match=r"`history` must hold at least one of"):
        kvae.plotting.save_training_curves(tmp_path / "c.png", bad)


def test_a_grid_draws_each_row_at_full_width_and_leaves_a_short_rows_end_white(tmp_path):
    from PIL import Image

    rows = [np.zeros((4, 6, 6, 1)), np.zeros((1, 6, 6, 1))]  # black pictures: 4, then 1
    kvae.plotting.save_grid(tmp_path / "grid.png", rows, titles=["four", "one"])
    image = np.asarray(Image.open(tmp_path / "grid.png").convert("L"), np.float32) / 255
    assert image.shape == (160, 240)  # 4 cells of 0.6 in, 2 rows of 0.6 in plus 0.2 in for each label
    first, second = image[30:70], image[110:150]  # each row's pictures, below its label
    assert first.mean() < 0.3 and first[:, -30:].mean() < 0.3  # black (white lines between) to the right edge
    assert second[:, 10:50].mean() < 0.3 and second[:, 70:].min() == 1.0  # one black cell, then white
