"""A hierarchical prior: latent layers z₁ … z_L generated top-down, each given the one above."""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from kvae import checks
from kvae.priors.base import MIN_SCALE
from kvae.priors.base import Prior

tfd = tfp.distributions


@keras.saving.register_keras_serializable(package="kvae")
class TopDown(Prior):
    """p(z) = N(z_L; 0, I) · Π_{l<L} N(z_l; μ_l(z_{l+1}), diag σ_l(z_{l+1})²): a top-down hierarchy.

    The generative half of the Ladder VAE (Sønderby et al., 2016) and of
    Burda et al.'s two-layer models: z is the concatenation `[z₁, …, z_L]` of
    `latent_dims` (z₁, nearest the data, first), and the decoder p(x|z) reads
    z₁ (`kvae.build_vae` with a tuple `latent_dim` builds it so). Each
    conditional is a network z_{l+1} → `[μ_l, s_l]`, σ_l = softplus(s_l) + 1e-6.

    Against a posterior whose layers are diagonal Gaussians (the diagonal
    posterior, or `kvae.posteriors.Ladder`), the KL is a sum of closed-form
    terms per latent dimension, each given the sampled layers above it
    (`kvae.divergences`): the per-layer KLs that LVAE and NVAE train with,
    which free bits act on. Samples are ancestral.

    Args:
        latent_dims: tuple of int. The layers' sizes d₁ … d_L, at least two;
            the model's `latent_dim` is their sum.
        hidden_units: int or tuple of int. Width of the two hidden `Dense`
            layers of each default conditional network (one for all, or one
            per conditional, from p(z₁|z₂) up).
        networks: list of L − 1 Keras layers or None. Your own conditionals
            (e.g. residual conv cells, `kvae.networks.conv_top_down`): network
            l maps z_{l+1} `[batch, d_{l+1}]` to `[batch, 2 d_l]`. None:
            MLPs of `hidden_units`.
        activation: str. Activation of the default networks.

    Example:

    >>> import kvae
    >>> prior = kvae.priors.TopDown(latent_dims=(4, 2), hidden_units=8)
    >>> prior.build((None, 6))
    >>> p = prior.distribution()
    >>> p.event_shape, p.sample(3, seed=[1, 2]).shape
    (TensorShape([6]), TensorShape([3, 6]))
    """

    provides = frozenset({"factorized", "hierarchical"})

    def __init__(self, latent_dims, hidden_units=64, networks=None, activation="relu", **kwargs):
        super().__init__(**kwargs)
        latent_dims = tuple(latent_dims) if isinstance(latent_dims, (list, tuple)) else (latent_dims,)
        if len(latent_dims) < 2:
            raise ValueError(f"`latent_dims` must list at least two layers' sizes, received: {latent_dims!r}")
        latent_dims = tuple(checks.positive_int(d, "latent_dims") for d in latent_dims)
        count = len(latent_dims) - 1
        hidden = (hidden_units,) * count if isinstance(hidden_units, int) else tuple(hidden_units)
        if len(hidden) != count or any(not isinstance(u, int) or u <= 0 for u in hidden):
            raise ValueError(
                f"`hidden_units` must be a positive int or {count} of them (one per conditional), received: "
                f"{hidden_units!r}"
            )
        if networks is not None and len(networks) != count:
            raise ValueError(f"`networks` must hold {count} layers (one per conditional), received {len(networks)}")

        # === Layers ===
        self.own_networks = networks is not None
        self.networks = list(networks) if networks is not None else [
            _conditional_mlp(latent_dims[l], hidden[l], activation, f"p_z{l + 1}", self.dtype_policy)
            for l in range(count)
        ]

        # === Config ===
        self.latent_dims = latent_dims
        self.hidden_units = hidden
        self.activation = activation

    def build(self, z_shape, x_shape=None):
        super().build(z_shape, x_shape)
        if self.latent_dim != sum(self.latent_dims):
            raise ValueError(
                f"`latent_dims` {self.latent_dims} must sum to the model's latent_dim={self.latent_dim}, "
                f"received a sum of {sum(self.latent_dims)}"
            )
        for l, network in enumerate(self.networks):
            if not network.built:
                network.build((None, self.latent_dims[l + 1]))
        self.built = True

    def describe(self):
        return f"top-down hierarchical prior (layers {'-'.join(str(d) for d in self.latent_dims)})"

    def conditional(self, l, z_above):
        """`(loc, scale)` of p(z_{l+1} | z_{l+2}) (0-based `l`) for z_above `[..., d_{l+2}]`, float32."""
        flat = tf.reshape(z_above, [-1, self.latent_dims[l + 1]])
        params = tf.cast(self.networks[l](flat), self.variable_dtype)
        loc, raw_scale = tf.split(params, 2, axis=-1)
        shape = tf.concat([tf.shape(z_above)[:-1], [self.latent_dims[l]]], axis=0)
        return tf.reshape(loc, shape), tf.reshape(tf.nn.softplus(raw_scale) + MIN_SCALE, shape)

    def distribution(self):
        return TopDownNormal(self.latent_dims, self.conditional, self.variable_dtype)

    def from_noise(self, epsilon):
        return self.distribution().from_noise(tf.convert_to_tensor(epsilon, self.variable_dtype))

    def sample_for_seeds(self, seeds):
        noise = tf.map_fn(
            lambda s: tf.random.stateless_normal([self.latent_dim], tf.stack([s, tf.constant(0, tf.int64)])),
            tf.convert_to_tensor(seeds, tf.int64),
            fn_output_signature=tf.TensorSpec([self.latent_dim], self.variable_dtype),
        )
        return self.from_noise(noise)

    def get_config(self):
        config = super().get_config()
        config.update({
            "latent_dims": self.latent_dims,
            "hidden_units": self.hidden_units,
            "activation": self.activation,
            "networks": [keras.saving.serialize_keras_object(n) for n in self.networks] if self.own_networks
            else None,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("networks") is not None:
            config["networks"] = [keras.saving.deserialize_keras_object(n) for n in config["networks"]]
        return cls(**config)


class TopDownNormal(tfd.Distribution):
    """The `tfd.Distribution` of `TopDown`: z = `[z₁, …, z_L]` with event shape `[Σ d_l]`.

    Args:
        latent_dims: tuple of int. d₁ … d_L.
        conditional: callable `(l, z_{l+2}) -> (loc, scale)` of layer l + 1.
        dtype: the distribution's float dtype.
    """

    def __init__(self, latent_dims, conditional, dtype=tf.float32):
        parameters = dict(locals())
        self.latent_dims = tuple(latent_dims)
        self._conditional = conditional
        super().__init__(dtype=dtype, reparameterization_type=tfd.FULLY_REPARAMETERIZED, validate_args=False,
                         allow_nan_stats=True, parameters=parameters, name="TopDownNormal")

    def _batch_shape(self):
        return tf.TensorShape([])

    def _batch_shape_tensor(self):
        return tf.constant([], tf.int32)

    def _event_shape(self):
        return tf.TensorShape([sum(self.latent_dims)])

    def _event_shape_tensor(self):
        return tf.constant([sum(self.latent_dims)], tf.int32)

    def conditional(self, l, z_above):
        """`(loc, scale)` of p(z_{l+1} | z_{l+2}) (0-based `l`) at z_above `[..., d_{l+2}]`."""
        return self._conditional(l, z_above)

    def layers(self, z):
        """z `[..., Σ d_l]` split into its layers `[z₁, …, z_L]`."""
        return tf.split(z, self.latent_dims, axis=-1)

    def conditionals(self, z):
        """p(z_l | z_{l+1}) for every layer at the path z, as diagonal `tfd.Independent(tfd.Normal)`s, z₁'s first."""
        layers = self.layers(z)
        top = tf.zeros_like(layers[-1])
        result = [_normal(*self._conditional(l, layers[l + 1])) for l in range(len(layers) - 1)]
        return result + [_normal(top, tf.ones_like(top))]

    def from_noise(self, epsilon):
        """Ancestral z for standard normal noise ε `[..., Σ d_l]`: z_L = ε_L, z_l = μ_l(z_{l+1}) + σ_l(z_{l+1}) ε_l."""
        noise = self.layers(epsilon)
        layers = [None] * len(noise)
        layers[-1] = noise[-1]
        for l in range(len(noise) - 2, -1, -1):
            loc, scale = self._conditional(l, layers[l + 1])
            layers[l] = loc + scale * noise[l]
        return tf.concat(layers, axis=-1)

    def _log_prob(self, z):
        return tf.add_n([p.log_prob(z_l) for p, z_l in zip(self.conditionals(z), self.layers(z))])

    def _sample_n(self, n, seed=None):
        shape = tf.stack([n, sum(self.latent_dims)])
        return self.from_noise(tf.random.stateless_normal(shape, tfp.random.sanitize_seed(seed), dtype=self.dtype))


def _normal(loc, scale):
    return tfd.Independent(tfd.Normal(loc=loc, scale=scale), 1)


def _conditional_mlp(latent_dim, units, activation, name, dtype):
    # z_{l+1} → two hidden layers → [μ_l, s_l], as Burda et al.'s and LVAE's deterministic layers.
    return keras.Sequential([
        keras.layers.Dense(units, activation=activation, dtype=dtype),
        keras.layers.Dense(units, activation=activation, dtype=dtype),
        keras.layers.Dense(2 * latent_dim, dtype=dtype),
    ], name=name)
