"""Standardisation of table columns by the training split's statistics, as a bijector."""

import keras
import numpy as np
import tensorflow_probability as tfp

from kvae.preprocessing.base import Preprocessing

tfb = tfp.bijectors


@keras.saving.register_keras_serializable(package="kvae")
class Standardize(Preprocessing):
    """u = (x − mean) / stddev per column: `tfb.Invert(tfb.Shift(mean)(tfb.Scale(stddev)))`.

    Densities of the raw rows follow by the change of variables,

        log p(x) = log p(u) − Σ_j log stddev_j,

    added to every log-likelihood and bound the model computes, so a model
    trained on a table reports (and serves) nats of the rows as they are in
    the file. `kvae.data.TableSource` measures the statistics; its
    `preprocessing()` makes this part.

    Args:
        mean: sequence of float. Per-column mean.
        stddev: sequence of float. Per-column standard deviation, > 0.
        **kwargs: `keras.layers.Layer` arguments.

    Example:

    >>> import numpy as np, kvae
    >>> s = kvae.preprocessing.Standardize(mean=[1.0, 10.0], stddev=[2.0, 5.0])
    >>> u, log_det = s.forward(np.array([[3.0, 0.0]], "float32"))
    >>> u.numpy().tolist(), round(float(log_det[0]), 4)  # −log 2 − log 5
    ([[1.0, -2.0]], -2.3026)
    """

    def __init__(self, mean, stddev, **kwargs):
        super().__init__(**kwargs)
        self.mean = [float(m) for m in np.asarray(mean, np.float64).reshape(-1)]
        self.stddev = [float(s) for s in np.asarray(stddev, np.float64).reshape(-1)]
        if len(self.mean) != len(self.stddev):
            raise ValueError(
                f"`mean` and `stddev` must have one value per column, received {len(self.mean)} and "
                f"{len(self.stddev)}"
            )
        if not (np.all(np.isfinite(self.mean)) and np.all(np.isfinite(self.stddev)) and min(self.stddev) > 0):
            raise ValueError("`stddev` must be finite and > 0 and `mean` finite")

    def bijector(self):
        # Written as the inverse of x = mean + stddev · u, so u is computed by a division, as
        # kvae.data.Standardization always did (not a multiplication by 1/stddev).
        mean, stddev = np.float32(self.mean), np.float32(self.stddev)
        return tfb.Invert(tfb.Chain([tfb.Shift(mean), tfb.Scale(stddev)]))  # Chain applies its last first

    def data_parameters(self, params):
        params = dict(params)
        if "mean" in params:
            params["mean"] = self.inverse(params["mean"])
        if "stddev" in params:
            params["stddev"] = params["stddev"] * np.float32(self.stddev)
        return params

    def describe(self):
        return f"columns standardised ({len(self.mean)} means and stddevs)"

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}
