"""`LatentSlice`: the columns of z that belong to one latent layer."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kvae")
class LatentSlice(keras.layers.Layer):
    """Returns z[:, start:start + size]: one layer of a hierarchy's z = `[z₁, …, z_L]`.

    A hierarchical VAE's decoder p(x|z₁) starts with `LatentSlice(0, d₁)`, so
    it takes the whole z the model passes and reads only z₁.

    Args:
        start: int. The first column.
        size: int. How many columns.

    Example:

    >>> import numpy as np, kvae
    >>> kvae.layers.LatentSlice(1, 2)(np.arange(8.0).reshape(2, 4)).numpy().tolist()
    [[1.0, 2.0], [5.0, 6.0]]
    """

    def __init__(self, start, size, **kwargs):
        super().__init__(**kwargs)
        self.start = int(start)
        self.size = int(size)

    def call(self, z):
        return ops.slice(z, (0, self.start), (ops.shape(z)[0], self.size))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size)

    def get_config(self):
        config = super().get_config()
        config.update({"start": self.start, "size": self.size})
        return config
