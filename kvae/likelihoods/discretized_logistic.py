"""Discretised logistic mixture likelihood: a probability mass of 8-bit pixels (PixelCNN++'s form)."""

import math

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from kvae.likelihoods import eight_bit
from kvae.likelihoods.base import Likelihood

tfd = tfp.distributions

_HALF_BIN = 0.5 / (eight_bit.LEVELS - 1)  # half the width of one level, in data units


@keras.saving.register_keras_serializable(package="kvae")
class DiscretizedLogistic(Likelihood):
    """A mixture of K discretised logistics per pixel, p(x|z) over the 256 levels x = k/255.

    Salimans et al. (2017, PixelCNN++), as NVAE and VDVAE use it. Each
    component has a location μ and scale s per channel; the mass of a level
    is the logistic's probability of its bin, and the two end levels take
    the tails:

        P_k(x) = σ((x + h − μ)/s) − σ((x − h − μ)/s)   for 0 < x < 1,
        P_k(0) = σ((h − μ)/s),   P_k(1) = 1 − σ((1 − h − μ)/s),

    with h = 1/510 half a level and σ the logistic sigmoid, so the 256 masses
    sum to 1. The channels of a pixel share the mixture's weights π = softmax(l)
    and are independent given the component:

        log p(pixel) = log Σ_k π_k Π_c P_k(x_c).

    The difference of sigmoids is computed in the exact form
    σ(a) − σ(b) = e^a (1 − e^{b−a}) / ((1 + e^a)(1 + e^b)), stable for every
    a > b, so no approximation is needed (PixelCNN++ falls back to the density
    at the bin's centre when the difference underflows). −log₂ p / D is a
    bits/dim comparable with published 8-bit results. PixelCNN++'s linear
    dependence between the colour channels is not included.

    The decoder emits, per pixel of an image `(H, W, C)`, K mixture logits,
    then K·C locations, then K·C raw scales (s = exp(max(r, log min_scale)),
    the clipped log-scale of PixelCNN++); for data of another rank each value
    is a pixel of one channel, its K·3 numbers consecutive. Locations and
    scales are in data units ([0, 1]).

    Args:
        num_components: int. K, the logistics per pixel, > 0.
        min_scale: float. The smallest scale s, > 0 (PixelCNN++ clips log s
            at −7 on its [−1, 1] scale, 4.6e-4 on this one).

    Example:

    >>> import numpy as np, kvae
    >>> likelihood = kvae.likelihoods.DiscretizedLogistic(num_components=2)
    >>> likelihood.params_shape((28, 28, 1))
    (28, 28, 6)
    >>> levels = np.arange(256, dtype="float32").reshape(256, 1) / 255  # 256 one-value examples
    >>> p = likelihood.distribution(np.random.default_rng(0).normal(size=(1, 6)).astype("float32"))
    >>> round(float(np.exp(p.log_prob(levels)).sum()), 5)  # the 256 levels' masses sum to 1
    1.0
    """

    support = (0.0, 1.0)
    levels = eight_bit.LEVELS

    def __init__(self, num_components=5, min_scale=math.exp(-7) / 2, **kwargs):
        super().__init__(**kwargs)
        if not (isinstance(num_components, int) and num_components > 0):
            raise ValueError(f"`num_components` must be an int > 0, received: num_components={num_components!r}")
        if not min_scale > 0:
            raise ValueError(f"`min_scale` must be a float > 0, received: min_scale={min_scale}")
        self.num_components = num_components
        self.min_scale = float(min_scale)

    def params_shape(self, event_shape):
        event_shape = tuple(event_shape)
        if len(event_shape) == 3:
            return event_shape[:-1] + (self._per_pixel(event_shape[-1]),)
        return event_shape[:-1] + (event_shape[-1] * self._per_pixel(1),)

    def _per_pixel(self, channels):
        return self.num_components * (1 + 2 * channels)

    def split(self, params):
        """The decoder's output as `(logits [b, *pixels, K], loc [b, *pixels, C, K], scale [b, *pixels, C, K])`."""
        k = self.num_components
        params = tf.convert_to_tensor(params, tf.float32)
        if len(params.shape) == 4:  # images (H, W, C)
            channels = (params.shape[-1] // k - 1) // 2
        else:  # each value a pixel of one channel, its numbers consecutive
            channels = 1
            params = tf.reshape(params, tf.concat([tf.shape(params)[:-1], [-1, self._per_pixel(1)]], axis=0))
        pixels = tf.shape(params)[:-1]
        logits = params[..., :k]
        loc = tf.reshape(params[..., k : k + k * channels], tf.concat([pixels, [channels, k]], axis=0))
        raw_scale = tf.reshape(params[..., k + k * channels :], tf.concat([pixels, [channels, k]], axis=0))
        return logits, loc, tf.exp(tf.maximum(raw_scale, math.log(self.min_scale)))

    def parameters(self, params):
        logits, loc, scale = self.split(params)
        return {"logits": logits, "loc": loc, "scale": scale, "mean": self.distribution(params).mean()}

    def distribution(self, params):
        params = tf.convert_to_tensor(params, tf.float32)
        return DiscretizedLogisticMixture(*self.split(params), image=len(params.shape) == 4, params=params)

    def describe(self):
        return f"discretised logistic mixture ({self.num_components} components)"

    def get_config(self):
        config = super().get_config()
        config.update({"num_components": self.num_components, "min_scale": self.min_scale})
        return config


class DiscretizedLogisticMixture(eight_bit.EightBitDistribution):
    """The `tfd.Distribution` of `DiscretizedLogistic`: whole examples of levels k/255.

    Args:
        logits: `[batch, *pixels, K]`. Mixture logits.
        loc: `[batch, *pixels, C, K]`. Locations in data units.
        scale: `[batch, *pixels, C, K]`. Scales in data units, > 0.
        image: bool. Whether the event is `(*pixels, C)` (images) or `pixels`.
        params: the decoder's output (for the batch shape).
    """

    def __init__(self, logits, loc, scale, image, params):
        parameters = dict(locals())
        self.logits, self.loc, self.scale, self.image = logits, loc, scale, image
        pixels = tuple(loc.shape[1:-2])
        event_shape = pixels + (loc.shape[-2],) if image else pixels
        super().__init__(params, event_shape, parameters, name="DiscretizedLogisticMixture")

    def _channels(self, values):
        # [..., *event] → [..., *pixels, C, 1], against the components' [*pixels, C, K].
        return (values if self.image else values[..., tf.newaxis])[..., tf.newaxis]

    def _log_prob_levels(self, k):
        x = self._channels(tf.cast(k, tf.float32) / (eight_bit.LEVELS - 1))
        k = self._channels(k)
        inverse = 1.0 / self.scale
        centred = x - self.loc
        upper = (centred + _HALF_BIN) * inverse
        lower = (centred - _HALF_BIN) * inverse
        # log(σ(a) − σ(b)) = a + log(1 − e^{b−a}) − softplus(a) − softplus(b), with b − a = −2h/s exactly.
        inner = upper + tf.math.log(-tf.math.expm1(-2 * _HALF_BIN * inverse)) - tf.nn.softplus(upper) - \
            tf.nn.softplus(lower)
        first = -tf.nn.softplus(-upper)  # log σ(a): the left tail joins level 0
        last = -tf.nn.softplus(lower)  # log(1 − σ(b)): the right tail joins level 255
        per_channel = tf.where(k == 0, first, tf.where(k == eight_bit.LEVELS - 1, last, inner))
        per_component = tf.reduce_sum(per_channel, axis=-2) + tf.nn.log_softmax(self.logits)
        per_pixel = tf.reduce_logsumexp(per_component, axis=-1)
        pixel_axes = len(self.loc.shape) - 3
        return tf.reduce_sum(per_pixel, axis=list(range(-pixel_axes, 0)))

    def _component_means(self):
        # E_k[x] = (1/255) Σ_{j=1}^{255} P_k(x ≥ j/255) = (1/255) Σ_j σ((μ − (j − ½)/255)/s), summed
        # 8 levels at a time to keep memory at 8 copies of the parameters, not 255 (served requests too).
        total = tf.zeros_like(self.loc)
        thresholds = (tf.range(1, eight_bit.LEVELS, dtype=tf.float32) - 0.5) / (eight_bit.LEVELS - 1)
        for start in range(0, eight_bit.LEVELS - 1, 8):
            chunk = thresholds[start : start + 8]
            total += tf.reduce_sum(tf.sigmoid((self.loc[..., tf.newaxis] - chunk) / self.scale[..., tf.newaxis]), -1)
        return total / (eight_bit.LEVELS - 1)

    def _mean(self):
        weights = tf.nn.softmax(self.logits)[..., tf.newaxis, :]
        mean = tf.reduce_sum(weights * self._component_means(), axis=-1)  # [batch, *pixels, C]
        return mean if self.image else mean[..., 0]

    def _sample_levels(self, n, seed):
        component_seed, noise_seed = tfp.random.split_seed(seed, n=2)
        component = tfd.Categorical(logits=self.logits).sample(n, seed=component_seed)  # [n, batch, *pixels]
        pick = tf.one_hot(component, self.num_components_static, dtype=tf.float32)[..., tf.newaxis, :]
        loc = tf.reduce_sum(pick * self.loc, axis=-1)
        scale = tf.reduce_sum(pick * self.scale, axis=-1)
        u = tf.random.stateless_uniform(tf.shape(loc), noise_seed, minval=1e-6, maxval=1 - 1e-6)
        x = loc + scale * (tf.math.log(u) - tf.math.log1p(-u))
        levels = tf.clip_by_value(tf.round(x * (eight_bit.LEVELS - 1)), 0, eight_bit.LEVELS - 1)
        return levels if self.image else levels[..., 0]

    @property
    def num_components_static(self):
        return self.logits.shape[-1]
