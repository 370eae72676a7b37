"""The `VAE` model: ELBO training and evaluation steps, encode/decode, sampling, IS-NLL."""

import copy
import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from kvae import checks
from kvae import distribute
from kvae import execution
from kvae import likelihoods as likelihoods_lib
from kvae import schedules as schedules_lib
from kvae.data.splits import check_examples
from kvae.metrics import ActiveUnits

tfd = tfp.distributions

# Floor on the posterior scale: keeps log σ finite when softplus underflows.
_MIN_POSTERIOR_SCALE = 1e-6
_SEED_STATE_KEY = "seed_generator_state"


@keras.saving.register_keras_serializable(package="kvae")
class VAE(execution.KerasExecution, keras.Model):
    """Variational autoencoder trained by maximising the ELBO with `fit`.

    The encoder defines the Gaussian posterior q(z|x) = N(μ(x), diag σ(x)²), the
    prior is p(z) = N(0, I), and `likelihood` turns the decoder's output into
    p(x|z). For each example the training loss is

        loss = −E_q[log p(x|z)] + β · KL(q(z|x) ‖ p(z)),

    the first term estimated with one reparameterised sample z = μ + σ·ε,
    ε ~ N(0, I), and the KL computed in closed form by `tfd.kl_divergence`,
    which for this pair equals

        KL = −½ Σ_j (1 + log σ_j² − μ_j² − σ_j²)  ≥ 0.

    With β = 1 the loss is the negative ELBO in nats per example. Steps average
    it over the *global* batch, so gradients are the same under any
    `tf.distribute` strategy, and report per-example metrics `loss`,
    `reconstruction`, `kl` and `elbo` (= −reconstruction − kl, always with β=1).

    Args:
        encoder: keras.Layer. Maps x to the posterior parameters: either a pair
            `(loc, scale_param)`, each `[batch, latent_dim]`, or one tensor
            `[batch, 2 * latent_dim]` holding `loc` then `scale_param`. The
            posterior scale is `softplus(scale_param) + 1e-6`.
        decoder: keras.Layer. Maps z `[batch, latent_dim]` to the likelihood's
            parameters, of shape `likelihood.params_shape(x.shape[1:])`.
        latent_dim: int. Size of z, > 0.
        likelihood: str or `kvae.likelihoods.Likelihood`. `"bernoulli"`,
            `"gaussian"`, `"gaussian_fixed"` or an instance.
        beta: float or `kvae.schedules.Schedule`. Weight of the KL term, >= 0.
            Its current value lives in a non-trainable `keras.Variable`
            (`model.beta`) that callbacks may `.assign()`; a schedule (e.g.
            `kvae.schedules.Warmup`) is evaluated by the compiled train step
            from `optimizer.iterations`, like a `LearningRateSchedule`, and
            its value is logged as `beta`.
        free_bits: float or `kvae.schedules.Schedule`. The free-bits floor λ
            in nats per latent dimension, >= 0 (0 = off); `model.free_bits`,
            like `beta`.
        seed: int or None. Seed of the reparameterisation noise.
        **kwargs: standard `keras.Model` arguments (`name`, `dtype`, ...).

    The model is built at construction when the encoder knows its input shape
    (any functional model does); otherwise `fit` or the first call builds it.

    Mixed precision: the networks compute in their own dtype policy (e.g.
    `keras.config.set_dtype_policy("mixed_bfloat16")` before building, or
    `dtype=` on `kvae.build_vae`); their outputs are cast to float32 once, at
    the boundary, so the posterior, prior, KL, likelihood log-probs,
    log-sum-exps and metrics are float32 whatever the policy (a 784-pixel
    log-prob summed in float16 would lose the ELBO's digits or overflow).

    Example:

    >>> import numpy as np, keras, kvae
    >>> vae = kvae.build_vae(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(16,))
    >>> vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> x = np.random.default_rng(0).uniform(size=(32, 8, 8, 1)).astype("float32")
    >>> history = vae.fit(x, batch_size=16, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['active_units', 'elbo', 'kl', 'loss', 'reconstruction']
    >>> vae.sample(3, seed=0).shape
    TensorShape([3, 8, 8, 1])
    """

    def __init__(
        self,
        encoder,
        decoder,
        latent_dim,
        likelihood="bernoulli",
        beta=1.0,
        seed=None,
        free_bits=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        latent_dim = checks.positive_int(latent_dim, "latent_dim")
        self.beta_schedule = schedules_lib.get(beta, "beta")
        self.free_bits_schedule = schedules_lib.get(free_bits, "free_bits")
        # Schedules installed for one `fit` by kvae's per-step callbacks.
        self._fit_schedules = {}
        if self.beta_schedule is None and not (isinstance(beta, (int, float, np.floating)) and beta >= 0):
            raise ValueError(f"`beta` must be a float >= 0 or a kvae.schedules.Schedule, received: {beta!r}")
        if self.free_bits_schedule is None and not (
            isinstance(free_bits, (int, float, np.floating)) and 0 <= free_bits < math.inf
        ):
            raise ValueError(
                f"`free_bits` must be a finite float >= 0 (nats per latent dimension) or a "
                f"kvae.schedules.Schedule, received: {free_bits!r}"
            )

        # === Layers ===
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = likelihoods_lib.get(likelihood)

        # === State ===
        # The step assigns scheduled values; every replica computes the same one.
        self.beta = keras.Variable(
            _initial(beta, self.beta_schedule), trainable=False, dtype="float32", name="beta",
            aggregation="only_first_replica",
        )
        self.free_bits = keras.Variable(
            _initial(free_bits, self.free_bits_schedule), trainable=False, dtype="float32",
            name="free_bits", aggregation="only_first_replica",
        )
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.elbo_tracker = keras.metrics.Mean(name="elbo")
        self.active_units_tracker = ActiveUnits(latent_dim, name="active_units")

        # === Config ===
        self.latent_dim = latent_dim
        self.seed = seed

        # === Build ===
        input_shape = _known_input_shape(encoder)
        if input_shape is not None:
            self.build(input_shape)

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if not self.encoder.built:
            self.encoder.build(input_shape)
        if not self.decoder.built:
            self.decoder.build((None, self.latent_dim))
        self.event_shape = tuple(input_shape[1:])
        self._check_networks(input_shape)
        self.built = True

    def _check_networks(self, input_shape):
        enc = self.encoder.compute_output_spec(keras.KerasTensor(input_shape))
        shapes = [tuple(t.shape) for t in tf.nest.flatten(enc)]
        L = self.latent_dim
        if len(shapes) == 1:
            ok = len(shapes[0]) == 2 and shapes[0][-1] == 2 * L
        else:
            ok = len(shapes) == 2 and all(len(s) == 2 and s[-1] == L for s in shapes)
        if not ok:
            raise ValueError(
                f"`encoder` must output one tensor of shape (batch, 2 * latent_dim) = "
                f"(batch, {2 * L}) or two of shape (batch, {L}), for inputs of shape "
                f"{input_shape}; received output shapes {shapes}"
            )
        dec = self.decoder.compute_output_spec(keras.KerasTensor((None, L)))
        expected = self.likelihood.params_shape(self.event_shape)
        received = tuple(dec.shape[1:])
        if received != expected:
            raise ValueError(
                f"`decoder` must output shape (batch,) + {expected} for data of shape "
                f"{self.event_shape} and the {type(self.likelihood).__name__} likelihood; "
                f"received output shape (batch,) + {received}"
            )

    # --- Distributions --------------------------------------------------------

    @property
    def distribution_dtype(self):
        """The dtype of every distribution, log-prob and metric: float32 under any mixed policy."""
        return self.dtype_policy.variable_dtype

    @property
    def prior(self):
        """The prior p(z) = N(0, I) over `latent_dim` dimensions."""
        zeros = tf.zeros([self.latent_dim], dtype=self.distribution_dtype)
        return tfd.Independent(tfd.Normal(zeros, tf.ones_like(zeros)), 1)

    def encode(self, x, training=False):
        """Returns the posterior q(z|x), a `tfd.Independent(tfd.Normal)` over z."""
        x = self._as_inputs(x)
        if not self.built:
            # Keras' TF trainer defers building to tracing, and our steps never
            # call self(x): build here so fit/save/export never meet an unbuilt model.
            self.build((None,) + tuple(x.shape[1:]))
        return self.posterior_from_params(self.encoder(x, training=training))

    def posterior_from_params(self, params):
        """q(z|x) from the encoder's output: a pair `(loc, scale_param)` or one tensor holding both."""
        if isinstance(params, (list, tuple)):
            loc, scale_param = (self._float(p) for p in params)
        else:
            loc, scale_param = tf.split(self._float(params), 2, axis=-1)
        scale = tf.nn.softplus(scale_param) + _MIN_POSTERIOR_SCALE
        return tfd.Independent(tfd.Normal(loc=loc, scale=scale), 1)

    def decode(self, z, training=False):
        """Returns the likelihood p(x|z), with one whole example per event."""
        return self.likelihood.distribution(self.decoder_params(z, training=training))

    def decoder_params(self, z, training=False):
        """The decoder's output for z, as float32 likelihood parameters."""
        z = tf.convert_to_tensor(z, dtype=self.distribution_dtype)
        return self._float(self.decoder(z, training=training))

    def _float(self, tensor):
        # The one cast at the network boundary (a no-op without mixed precision).
        return tf.cast(tensor, self.distribution_dtype)

    def call(self, inputs, training=False):
        # `model(x)` and `predict` give the deterministic reconstruction.
        return self.reconstruct(inputs, training=training)

    def reconstruct(self, x, training=False):
        """Mean of p(x|z) at the posterior mean z = μ(x): a deterministic reconstruction."""
        return self.decode(self.encode(x, training).mean(), training).mean()

    def sample(self, num_samples, seed=None, mean=True):
        """Draws `num_samples` examples from the model.

        Args:
            num_samples: int. How many examples.
            seed: int or None. Same int, same samples; None draws from the
                model's seed generator.
            mean: bool. If True, return the mean of p(x|z) for each prior draw z
                (the usual picture of "samples"); if False, draw x ~ p(x|z).
        """
        seed = self._stateless_seed(seed)
        z_seed, x_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        z = self.prior.sample(int(num_samples), seed=z_seed)
        likelihood = self.decode(z)
        return likelihood.mean() if mean else likelihood.sample(seed=x_seed)

    def generate(self, seeds):
        """One example per seed: the mean of p(x|z) at z drawn from the prior with that seed.

        Deterministic (stateless random numbers): the same seed gives the same
        example, in this process, in another, or behind TF Serving.

        Args:
            seeds: int64 tensor `[batch]`.

        Returns:
            `(examples, z)`: `[batch, *event_shape]` and `[batch, latent_dim]`.
        """
        seeds = tf.convert_to_tensor(seeds, tf.int64)
        z = tf.map_fn(
            lambda s: tf.random.stateless_normal([self.latent_dim], tf.stack([s, tf.constant(0, tf.int64)])),
            seeds,
            fn_output_signature=tf.TensorSpec([self.latent_dim], self.distribution_dtype),
        )
        return self.decode(z).mean(), z

    def score(self, x, num_samples=100, seed=0):
        """Per-example anomaly scores in nats: `kvae.evaluation.score(self, x, num_samples, seed)`."""
        from kvae import evaluation

        return evaluation.score(self, self._as_inputs(x), num_samples, seed)

    # --- Export -----------------------------------------------------------------

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs):
        """Keras' `Model.export`, for every part of a VAE.

        - `format="tf_saved_model"` (default) writes the SavedModel that
          `kvae.export.export_saved_model` publishes (signatures `encode` =
          `serving_default`, `decode`, `reconstruct`, `generate`, `score`,
          `score_k`, with declared shapes, input checks and TF Serving warm-up
          requests), whole or not at all. Keras' generic export would hold
          only `call` and refuses a model whose steps never called it.
        - `format="onnx"` or `"litert"` writes one deterministic endpoint
          (`endpoint="encode"`, the default, `"decode"` or `"reconstruct"`;
          see `kvae.export.endpoint_model`) through Keras' own converter; call
          it once per endpoint. ONNX needs `pip install "kvae[onnx]"`.

        Args:
            filepath: str or Path. The SavedModel folder or the file (replaced
                if it exists).
            format: str. `"tf_saved_model"`, `"onnx"` or `"litert"`.
            verbose: bool or None. Print where the model was written.
            input_signature: None. The inputs follow from the model.
            **kwargs: `score_samples` (int, default 100: importance samples
                of the `score` signature) for a SavedModel; `endpoint` and
                Keras' converter options (`opset_version`, ...) otherwise.

        Example:

        >>> import os, tempfile, kvae
        >>> vae = kvae.build_vae((8, 8, 1), latent_dim=2, hidden_units=(16,))
        >>> folder = tempfile.mkdtemp()
        >>> path = vae.export(os.path.join(folder, "vae"))
        >>> sorted(os.listdir(path))
        ['assets', 'assets.extra', 'fingerprint.pb', 'saved_model.pb', 'variables']
        """
        from kvae import export as export_lib

        if input_signature is not None:
            raise ValueError(
                "`input_signature` must be None for a kvae.VAE: the signatures take x "
                f"[batch, *event_shape] and z [batch, latent_dim]; received: {input_signature!r}"
            )
        if format == "tf_saved_model":
            path = export_lib.write_saved_model(self, filepath, **kwargs)
            if verbose:
                print(f"Saved kvae's SavedModel (signatures {', '.join(export_lib.SIGNATURES)}) to {path}")
            return path
        return export_lib.export_endpoint(self, filepath, format, verbose=verbose, **kwargs)

    # --- Training ---------------------------------------------------------------

    def _check_array(self, x):
        # NumPy input is checked on the host, once, before any step runs; a
        # tf.data pipeline is the caller's (kvae.data.make_dataset checks its own).
        if isinstance(x, np.ndarray):
            check_examples(x, "x")
            self.check_event_shape(x.shape)
            self.likelihood.check_data(x, "x")

    @property
    def metrics(self):
        return [
            self.loss_tracker,
            self.reconstruction_tracker,
            self.kl_tracker,
            self.elbo_tracker,
            self.active_units_tracker,
        ]

    def elbo_terms(self, x, training=False):
        """Per-example reconstruction NLL and KL, each `[batch]`, in nats.

        Both are single-sample estimates of the ELBO's terms: the NLL at one
        reparameterised z ~ q(z|x), the KL in closed form. The noise ε is drawn
        for the global batch and each replica takes its own rows, so an example
        gets the same ε however the batch is split across devices.
        """
        reconstruction, kl_per_dim, _ = self._terms(x, training)
        return reconstruction, tf.reduce_sum(kl_per_dim, axis=-1)

    def _terms(self, x, training):
        # The training noise: from the model's seed generator, drawn for the global batch.
        posterior = self.encode(x, training=training)
        epsilon = distribute.global_batch_normal(tf.shape(posterior.mean()), self._next_seed())
        return self.terms_given_noise(x, posterior, epsilon, training=training)

    def terms_given_noise(self, x, posterior, epsilon, training=False):
        """The ELBO's terms at z = μ + σ·ε for a given posterior q(z|x) and noise ε.

        Args:
            x: tensor `[batch, *event_shape]`. The examples.
            posterior: `tfd.Independent(tfd.Normal)`, `encode(x)`.
            epsilon: tensor `[batch, latent_dim]` of standard normal noise.
            training: bool. Passed to the decoder.

        Returns:
            `(reconstruction, kl_per_dim, loc)`: −log p(x|z) `[batch]`, the
            closed-form KL_j `[batch, latent_dim]` (`tfd.kl_divergence`) and
            μ(x) `[batch, latent_dim]`, in nats.
        """
        normal = posterior.distribution
        z = normal.loc + normal.scale * epsilon  # reparameterised: z = μ + σ·ε
        reconstruction = -self.likelihood.log_prob(self.decoder_params(z, training=training), x)
        kl_per_dim = tfd.kl_divergence(normal, self.prior.distribution)
        return reconstruction, kl_per_dim, normal.loc

    def _objective(self, reconstruction, kl_per_dim):
        # −log p(x|z) + β Σ_j max(λ, KL_j): the per-example training loss.
        floored = tf.maximum(kl_per_dim, tf.cast(self.free_bits, kl_per_dim.dtype))
        return reconstruction + tf.cast(self.beta, kl_per_dim.dtype) * tf.reduce_sum(floored, axis=-1)

    def train_step(self, data):
        x, _, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        scheduled = self._apply_schedules()
        with tf.GradientTape() as tape:
            reconstruction, kl_per_dim, loc = self._terms(x, training=True)
            per_example_loss = self._objective(reconstruction, kl_per_dim)
            loss = distribute.global_batch_mean(per_example_loss, sample_weight)
            loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        return self._update_metrics(per_example_loss, reconstruction, kl_per_dim, loc, sample_weight, scheduled)

    def test_step(self, data):
        x, _, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        reconstruction, kl_per_dim, loc = self._terms(x, training=False)
        per_example_loss = self._objective(reconstruction, kl_per_dim)
        return self._update_metrics(per_example_loss, reconstruction, kl_per_dim, loc, sample_weight)

    def _schedule(self, name):
        # A callback's schedule for this fit, else the model's own (None: a constant).
        return self._fit_schedules.get(name, getattr(self, f"{name}_schedule"))

    def _set_fit_schedule(self, name, schedule):
        """Installs (or with None removes) a schedule of `name` for the current `fit`.

        kvae's per-step callbacks use this so that their schedule is evaluated
        inside the compiled step; the model's own config is left unchanged.
        Returns whether the train function must be traced again.
        """
        before = self._schedule(name)
        if schedule is None:
            self._fit_schedules.pop(name, None)
        else:
            self._fit_schedules[name] = schedule
        return self._schedule(name) is not before

    def _apply_schedules(self):
        # Like a LearningRateSchedule: a function of the optimizer's step counter,
        # evaluated in the compiled step (no retrace, no per-batch callback).
        scheduled = {}
        for name in ("beta", "free_bits"):
            schedule = self._schedule(name)
            if schedule is not None:
                variable = getattr(self, name)
                variable.assign(tf.cast(schedule(self.optimizer.iterations), variable.dtype))
                scheduled[name] = variable
        return scheduled

    def _update_metrics(self, per_example_loss, reconstruction, kl_per_dim, loc, sample_weight, scheduled=None):
        # Metrics get unscaled per-example values; Keras aggregates them across
        # replicas, so the logs do not depend on the replica count.
        kl = tf.reduce_sum(kl_per_dim, axis=-1)
        self.loss_tracker.update_state(per_example_loss, sample_weight)
        self.reconstruction_tracker.update_state(reconstruction, sample_weight)
        self.kl_tracker.update_state(kl, sample_weight)
        self.elbo_tracker.update_state(-(reconstruction + kl), sample_weight)
        self.active_units_tracker.update_state(loc, sample_weight)
        logs = {m.name: m.result() for m in self.metrics}
        logs.update({name: tf.identity(variable) for name, variable in (scheduled or {}).items()})
        return distribute.step_outputs(logs)

    # --- Evaluation -------------------------------------------------------------

    def log_likelihood(self, x, num_samples=1000, batch_size=None, seed=0, verbose=0):
        """Importance-weighted estimate of log p(x) per example, in nats (`kvae.evaluation.log_likelihood`).

        Seeded and stateless: it never draws from the training noise generator.
        """
        from kvae import evaluation

        return evaluation.log_likelihood(self, x, num_samples, batch_size=batch_size, seed=seed, verbose=verbose)

    # --- Helpers ----------------------------------------------------------------

    def _as_inputs(self, x):
        # Data stays float32 for the likelihood; the encoder's layers cast their own inputs.
        x = tf.convert_to_tensor(x, dtype_hint=self.distribution_dtype)
        if x.dtype != self.distribution_dtype:
            x = tf.cast(x, self.distribution_dtype)
        self.check_event_shape(x.shape)
        return x

    def check_event_shape(self, shape):
        """Raises unless `shape` (of a batch of examples) is `(batch,) + event_shape`.

        Unknown sizes (None) pass: exported signatures check them at run time.
        """
        shape = tf.TensorShape(shape)
        event_shape = getattr(self, "event_shape", None)
        if event_shape is not None and not shape[1:].is_compatible_with(event_shape):
            raise ValueError(
                f"`x` must have shape (batch,) + {event_shape}, received shape {tuple(shape)}"
            )

    def _next_seed(self):
        # TFP's stateless samplers take an int32 seed of shape [2].
        return tf.cast(self.seed_generator.next(), tf.int32)

    def _stateless_seed(self, seed):
        if seed is None:
            return self._next_seed()
        return tf.constant([int(seed), 0], dtype=tf.int32)

    # Keras saves a layer's weights but not its SeedGenerator state; without it
    # a reloaded model would replay the noise of step 0 and not resume exactly.
    def save_own_variables(self, store):
        super().save_own_variables(store)
        store[_SEED_STATE_KEY] = keras.ops.convert_to_numpy(self.seed_generator.state)

    def load_own_variables(self, store):
        keys = list(store.keys())
        if _SEED_STATE_KEY in keys:
            self.seed_generator.state.assign(store[_SEED_STATE_KEY])
            store = {k: store[k] for k in keys if k != _SEED_STATE_KEY}
        super().load_own_variables(store)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "decoder": keras.saving.serialize_keras_object(self.decoder),
                "latent_dim": self.latent_dim,
                "likelihood": keras.saving.serialize_keras_object(self.likelihood),
                "beta": _config_value(self.beta, self.beta_schedule),
                "seed": self.seed,
                "free_bits": _config_value(self.free_bits, self.free_bits_schedule),
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        # Deserialising mutates nested dicts; leave the caller's config intact.
        config = copy.deepcopy(config)
        for key in ("encoder", "decoder", "likelihood"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


def _initial(value, schedule):
    return float(schedule(0)) if schedule is not None else float(value)


def _config_value(variable, schedule):
    if schedule is not None:
        return keras.saving.serialize_keras_object(schedule)
    return float(keras.ops.convert_to_numpy(variable))


def _known_input_shape(layer):
    inputs = getattr(layer, "inputs", None)
    try:
        if inputs and len(inputs) == 1:
            return tuple(inputs[0].shape)
    except (AttributeError, ValueError):
        pass
    return None
