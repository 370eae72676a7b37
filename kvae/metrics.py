"""`ActiveUnits`: how many latent dimensions the encoder actually uses."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kvae")
class ActiveUnits(keras.metrics.Metric):
    """Counts the latent dimensions whose posterior mean varies with x.

    Burda et al. (2016) call dimension j *active* when

        A_j = Cov_x(E_{q(z|x)}[z_j]) = Var_x(μ_j(x)) > threshold,

    with the variance taken over the examples seen since the last reset. A
    collapsed posterior (q(z|x) = p(z) for every x) has no active units; so the
    count is the quickest check for posterior collapse. The state is the count,
    Σμ and Σμ² (summed across replicas like any Keras metric), so the result
    does not depend on batching or on the number of devices.

    Args:
        latent_dim: int. Size of z.
        threshold: float. Variance above which a dimension counts as active.
        name: str. Metric name.

    Example:

    >>> import numpy as np, kvae
    >>> m = kvae.metrics.ActiveUnits(latent_dim=3)
    >>> loc = np.stack([np.linspace(-1, 1, 8), np.zeros(8), np.full(8, 0.01)], axis=1)
    >>> m.update_state(loc)
    >>> float(m.result())
    1.0
    """

    def __init__(self, latent_dim, threshold=0.01, name="active_units", **kwargs):
        super().__init__(name=name, **kwargs)
        self.latent_dim = int(latent_dim)
        self.threshold = float(threshold)
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")
        self.total = self.add_variable(shape=(self.latent_dim,), initializer="zeros", name="total")
        self.total_sq = self.add_variable(shape=(self.latent_dim,), initializer="zeros", name="total_sq")

    def update_state(self, loc, sample_weight=None):
        """Adds posterior means `loc` `[batch, latent_dim]` (optionally weighted)."""
        loc = ops.cast(loc, self.dtype)
        if sample_weight is None:
            weight = ops.ones_like(loc[:, :1])
        else:
            weight = ops.reshape(ops.cast(sample_weight, self.dtype), (-1, 1))
        self.count.assign_add(ops.sum(weight))
        self.total.assign_add(ops.sum(loc * weight, axis=0))
        self.total_sq.assign_add(ops.sum(ops.square(loc) * weight, axis=0))

    def variances(self):
        """Var_x(μ_j) per dimension `[latent_dim]` over the examples seen."""
        count = ops.maximum(self.count, 1.0)
        mean = self.total / count
        return ops.maximum(self.total_sq / count - ops.square(mean), 0.0)

    def result(self):
        return ops.sum(ops.cast(self.variances() > self.threshold, self.dtype))

    def get_config(self):
        config = super().get_config()
        config.update({"latent_dim": self.latent_dim, "threshold": self.threshold})
        return config
