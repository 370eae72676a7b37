"""The `VAE` model: its parts, the training and evaluation steps, encode/decode, sampling."""

import copy

import keras
import numpy as np
import tensorflow as tf

from kvae import checks
from kvae import conditions as conditions_lib
from kvae import deprecation
from kvae import distribute
from kvae import evaluation
from kvae import execution
from kvae import export as export_lib
from kvae import forward as forward_lib
from kvae import likelihoods as likelihoods_lib
from kvae import objectives as objectives_lib
from kvae import posteriors as posteriors_lib
from kvae import preprocessing as preprocessing_lib
from kvae import priors as priors_lib
from kvae import protocol
from kvae.metrics import ActiveUnits
from kvae.networks import contract

_SEED_STATE_KEY = "seed_generator_state"

# The built-in parts by role: what `check_parts` names when a combination is refused.
REGISTRIES = {
    "prior": priors_lib.REGISTRY,
    "posterior": posteriors_lib.REGISTRY,
    "objective": objectives_lib.REGISTRY,
    "likelihood": likelihoods_lib.REGISTRY,
    "preprocessing": preprocessing_lib.REGISTRY,
    "condition": conditions_lib.REGISTRY,
}


@keras.saving.register_keras_serializable(package="kvae")
class VAE(execution.KerasExecution, keras.Model):
    """Variational autoencoder trained by maximising the ELBO with `fit`.

    The encoder defines the Gaussian posterior q(z|x) = N(μ(x), diag σ(x)²), the
    prior is p(z) = N(0, I) unless another is given, and `likelihood` turns the
    decoder's output into p(x|z). For each example the default training loss is

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
        encoder: keras.Layer. Maps x to the posterior's parameters: for the
            default posterior a pair `(loc, scale_param)`, each
            `[batch, latent_dim]`, or one tensor `[batch, 2 * latent_dim]`
            holding `loc` then `scale_param`; the scale is
            `softplus(scale_param) + 1e-6`.
        decoder: keras.Layer. Maps z `[batch, latent_dim]` to the likelihood's
            parameters, of shape `likelihood.params_shape(x.shape[1:])`.
        latent_dim: int. Size of z, > 0.
        likelihood: str or `kvae.likelihoods.Likelihood`. `"bernoulli"`,
            `"gaussian"`, `"gaussian_fixed"` or an instance.
        beta: float or `kvae.schedules.Schedule`. Weight of the KL term, >= 0,
            for the named `"elbo"` objective (`kvae.objectives.ELBO`). Its
            current value lives in a non-trainable `keras.Variable`
            (`model.beta`) that callbacks may `.assign()`; a schedule (e.g.
            `kvae.schedules.Warmup`) is evaluated by the compiled train step
            from `optimizer.iterations`, like a `LearningRateSchedule`, and
            its value is logged as `beta`.
        free_bits: float or `kvae.schedules.Schedule`. The free-bits floor λ
            in nats per latent dimension, >= 0 (0 = off); `model.free_bits`,
            like `beta`.
        seed: int or None. Seed of the reparameterisation noise.
        prior: str or `kvae.priors.Prior`. p(z): `"normal"` (N(0, I),
            default, closed-form KL), `"mixture"` (`GaussianMixture`) or
            `"vamp"` (`VampPrior`). Without a closed-form KL the `kl` terms
            are the single-sample estimate log q(z|x) − log p(z).
        posterior: str or `kvae.posteriors.Posterior`. How the encoder's
            output becomes q(z|x): `"normal"` (the diagonal Gaussian,
            default), `"full"` (`FullNormal`, full covariance) or `"iaf"`
            (`IAF`, an inverse autoregressive flow). The encoder emits
            `posterior.params_sizes(latent_dim)` values per example.
        objective: str or `kvae.objectives.Objective`. What the train step
            minimises: `"elbo"` (default, with `beta` and `free_bits`) or
            `"iwae"` (`kvae.objectives.IWAE`, the k-sample bound).
        num_classes: int or None. Short for
            `condition=kvae.conditions.ClassLabel(num_classes)`.
        condition_shape: tuple of int or None. Short for
            `condition=kvae.conditions.Vector(condition_shape)`.
        condition: str, `kvae.conditions.Condition` or None. Makes a
            conditional VAE, q(z|x, c) and p(x|z, c) with p(z) unchanged:
            the encoder takes `[x, c]` and the decoder `[z, c]`, c the
            condition's tensor (one-hot `[batch, C]` for class labels). `fit`
            then takes `(x, y)` data with y the conditions (class ids or
            one-hot rows for labels), and `sample`, `generate`,
            `log_likelihood`, ... take `condition=`. None: unconditional
            (`kvae.conditions.Unconditional`).
        preprocessing: str, `kvae.preprocessing.Preprocessing` or None. A
            fixed bijector u = f(x) from the data to the networks' inputs
            (e.g. `kvae.preprocessing.Standardize(mean, stddev)` for table
            columns), saved with the model. Every method takes and returns
            data x; every log-density is of x, log p(u) + log|det ∂f/∂x|.
            None: the identity.
        **kwargs: standard `keras.Model` arguments (`name`, `dtype`, ...).

    The parts are Keras layers the model owns (`prior_layer`,
    `posterior_layer`, `objective`, `likelihood`, `preprocessing`,
    `condition`): their weights train and save with it.

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
    >>> vae.compile(optimizer=kvae.optimizers.Adam(1e-3))
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
        prior="normal",
        posterior="normal",
        objective="elbo",
        num_classes=None,
        condition_shape=None,
        preprocessing=None,
        condition=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        latent_dim = checks.positive_int(latent_dim, "latent_dim")

        # === Parts ===
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = likelihoods_lib.get(likelihood)
        self.prior_layer = priors_lib.get(prior, dtype=self.dtype_policy.name)
        self.posterior_layer = posteriors_lib.get(posterior, dtype=self.dtype_policy.name)
        self.objective = objectives_lib.get(objective, beta=beta, free_bits=free_bits)
        self.preprocessing = preprocessing_lib.get(preprocessing)
        self.condition = conditions_lib.get(condition, num_classes, condition_shape)
        self.check_parts()

        # === State ===
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.elbo_tracker = keras.metrics.Mean(name="elbo")
        self.active_units_tracker = ActiveUnits(latent_dim, name="active_units")
        # A hierarchy's layers (z₁ first), and their KLs when the KL has a term per dimension.
        self.latent_layers = tuple(self.prior_layer.latent_dims or (latent_dim,))
        per_dimension = all("factorized" in self.parts[role].provides for role in ("prior", "posterior"))
        self.layer_kl_trackers = [keras.metrics.Mean(name=f"kl_z{l + 1}") for l in range(len(self.latent_layers))
                                  ] if len(self.latent_layers) > 1 and per_dimension else []

        # === Config ===
        self.latent_dim = latent_dim
        self.seed = seed
        self.event_shape = None  # the shape of one example, known once built

        # === Build ===
        input_shape = contract.known_input_shape(encoder)
        if input_shape is not None:
            self.build(self._build_shape(input_shape))

    @property
    def parts(self):
        """The parts by role (see `kvae.protocol`)."""
        return {
            "prior": self.prior_layer,
            "posterior": self.posterior_layer,
            "objective": self.objective,
            "likelihood": self.likelihood,
            "preprocessing": self.preprocessing,
            "condition": self.condition,
        }

    def check_parts(self, requirements=None):
        """Raises `ValueError` if a part's requirements (or the given ones) are not met by the others.
        Combinations with no sound meaning get a clear error at construction,
        never at trace time; the check reads what the parts declare
        (`kvae.protocol`), not their classes.
        """
        protocol.check(self.parts, REGISTRIES, requirements)

    def _build_shape(self, x_shape):
        # A conditional VAE is built (and called, e.g. by Keras' default SavedModel
        # signature) with {"x": ..., "condition": values as users give them}.
        x_shape = tuple(x_shape)
        if not self.conditional:
            return x_shape
        return {"x": x_shape, "condition": (None, *self.condition.value_shape)}

    def build(self, input_shape):
        if isinstance(input_shape, dict):
            input_shape = input_shape["x"]
        input_shape = tuple(input_shape)
        c_shape = self.condition.shape
        if not self.encoder.built:
            self.encoder.build(input_shape if c_shape is None else [input_shape, (None, *c_shape)])
        if not self.decoder.built:
            z_shape = (None, self.latent_dim)
            self.decoder.build(z_shape if c_shape is None else [z_shape, (None, *c_shape)])
        self.event_shape = tuple(input_shape[1:])
        if not self.posterior_layer.built:
            self.posterior_layer.build((None, self.latent_dim))
        contract.check_networks(
            self.encoder, self.decoder, self.latent_dim, self.likelihood, input_shape,
            self.posterior_layer.params_sizes(self.latent_dim), c_shape,
        )
        self.prior_layer.connect(self.posterior_of)
        self.posterior_layer.connect(self.prior_layer.distribution)
        if not self.prior_layer.built:
            self.prior_layer.build((None, self.latent_dim), (None,) + self.event_shape)
        elif self.prior_layer.latent_dim != self.latent_dim:
            raise ValueError(
                f"`prior` must be over latent_dim={self.latent_dim} dimensions, received one built for "
                f"{self.prior_layer.latent_dim}"
            )
        self.built = True

    @property
    def conditional(self):
        """Whether the encoder and decoder take a condition (`model.condition` is not `Unconditional`)."""
        return self.condition.conditional

    @property
    def num_classes(self):
        """C of a class-label condition (`kvae.conditions.ClassLabel`), else None."""
        return self.condition.num_classes

    @property
    def beta(self):
        """The objective's KL weight β (a `keras.Variable`), or None if it has none."""
        return self.objective.beta

    @property
    def free_bits(self):
        """The objective's free-bits floor λ (a `keras.Variable`), or None if it has none."""
        return self.objective.free_bits

    # --- Distributions --------------------------------------------------------

    @property
    def distribution_dtype(self):
        """The dtype of every distribution, log-prob and metric: float32 under any mixed policy."""
        return self.dtype_policy.variable_dtype

    @property
    def prior(self):
        """The prior p(z), a float32 `tfd` distribution over `latent_dim` dimensions."""
        return self.prior_layer.distribution()

    @deprecation.renamed("labels", "condition")
    def encode(self, x, training=False, condition=None):
        """Returns the posterior q(z|x), a float32 `tfd` distribution over z (`posterior_layer.distribution`).
        A conditional VAE takes its `condition` (q(z|x, c)).
        """
        return self._posterior(x, self.condition.convert(condition), training)

    def _posterior(self, x, condition, training=False):
        # q(z|x) for data x and an already converted condition.
        u, _ = self.preprocessing.forward(self._built_for(x))
        return self._encode(u, condition, training)

    def _built_for(self, x):
        # float32 inputs, the model built for them: Keras' TF trainer defers building
        # to tracing, and our steps never call self(x), so fit/save/export never meet
        # an unbuilt model.
        x = self._as_inputs(x)
        if not self.built:
            self.build(self._build_shape((None,) + tuple(x.shape[1:])))
        return x

    def _encode(self, x, condition, training=False):
        # q(z|x) for float32 inputs and an already converted condition.
        return self.posterior_from_params(self.encoder(x if condition is None else [x, condition], training=training))

    def posterior_from_params(self, params):
        """q(z|x) from the encoder's output (`posterior_layer.distribution`)."""
        return self.posterior_layer.distribution(params)

    def posterior_of(self, x):
        """q(z|x) for inputs x of an unconditional VAE: what the prior is `connect`ed to (the VampPrior's components)."""
        return self.posterior_from_params(self.encoder(x))

    def forward(self, x, condition=None, training=False, noise=None):
        """One pass over the batch `x`: a `kvae.forward.ForwardPass` holding q(z|x) and p(z).
        Args:
            x: tensor `[batch, *event_shape]`.
            condition: a conditional VAE's condition values for the batch
                (e.g. class ids), converted here, once (`condition.convert`).
            training: bool. Passed to the networks.
            noise: callable `(num_samples or None) -> ε` or None. What the
                pass's `noise()` returns; by default it draws from the model's
                seed generator for the global batch, each replica taking its
                own rows, so an example gets the same ε however the batch is
                split across devices.

        Example:

        >>> import numpy as np, kvae
        >>> vae = kvae.build_vae((4,), latent_dim=2, hidden_units=8)
        >>> forward = vae.forward(np.full((3, 4), 0.5, "float32"))
        >>> z, log_q = forward.sample(forward.noise(5))
        >>> z.shape, forward.log_weights(z, log_q)[0].shape
        (TensorShape([5, 3, 2]), TensorShape([5, 3]))
        """
        x = self._built_for(x)
        condition = self.condition.convert(condition)
        u, log_det = self.preprocessing.forward(x)
        posterior = self._encode(u, condition, training)

        def decode(z, c):
            return self._decoder_params(z, c, training)

        def draw(num_samples=None):
            seed = self._next_seed()
            batch = tf.shape(x)[0]
            if num_samples is None:
                return distribute.global_batch_normal(tf.stack([batch, self.latent_dim]), seed)
            epsilon = distribute.global_batch_normal(tf.stack([batch, num_samples, self.latent_dim]), seed)
            return tf.transpose(epsilon, [1, 0, 2])

        return forward_lib.ForwardPass(
            u, condition, posterior, self.prior, self.posterior_layer, self.likelihood, decode, noise or draw,
            log_det=log_det,
        )

    @deprecation.renamed("labels", "condition")
    def embed(self, x, training=False, condition=None):
        """The posterior's location for each x `[batch, latent_dim]`: its mean for the Gaussian posteriors.
        A deterministic embedding (the flow posterior's z at zero noise).
        """
        return self.posterior_layer.location(self.encode(x, training, condition))

    @deprecation.renamed("labels", "condition")
    def decode(self, z, training=False, condition=None):
        """Returns the likelihood p(x|z) (p(x|z, c) given a `condition`), with one whole example per event.
        A distribution of the data: the likelihood's, pushed back through the
        model's preprocessing (`kvae.preprocessing`) if it has one.
        """
        return self._data_distribution(z, self.condition.convert(condition), training)

    def _data_distribution(self, z, condition, training=False):
        # p(x|z) in data units for an already converted condition.
        distribution = self.likelihood.distribution(self._decoder_params(z, condition, training))
        return self.preprocessing.data_distribution(distribution)

    def _data_mean(self, z, condition, training=False):
        # The mean of p(x|z) in data units (an affine preprocessing maps means to means), for a converted condition.
        mean = self.likelihood.distribution(self._decoder_params(z, condition, training)).mean()
        return self.preprocessing.inverse(mean)

    @deprecation.renamed("labels", "condition")
    def decoder_params(self, z, training=False, condition=None):
        """The decoder's output for z (and the `condition` of a conditional VAE), as float32 likelihood parameters."""
        return self._decoder_params(z, self.condition.convert(condition), training)

    def _decoder_params(self, z, condition, training=False):
        z = tf.convert_to_tensor(z, dtype=self.distribution_dtype)
        # The one cast at the network boundary (a no-op without mixed precision).
        return tf.cast(self.decoder(z if condition is None else [z, condition], training=training), self.distribution_dtype)

    def call(self, inputs, training=False):
        # `model(x)` and `predict` give the deterministic reconstruction; a
        # conditional VAE takes `{"x": x, "condition": c}` (kvae 0.1 said "labels").
        if isinstance(inputs, dict):
            condition = inputs.get("condition", inputs.get("labels"))
            return self.reconstruct(inputs["x"], training=training, condition=condition)
        return self.reconstruct(inputs, training=training)

    @deprecation.renamed("labels", "condition")
    def reconstruct(self, x, training=False, condition=None):
        """Mean of p(x|z) at the posterior's location z (`embed`): a deterministic reconstruction."""
        condition = self.condition.convert(condition)
        z = self.posterior_layer.location(self._posterior(x, condition, training))
        return self._data_mean(z, condition, training)

    @deprecation.renamed("labels", "condition")
    def sample(self, num_samples, seed=None, mean=True, condition=None):
        """Draws `num_samples` examples from the model.
        Args:
            num_samples: int. How many examples.
            seed: int or None. Same int, same samples; None draws from the
                model's seed generator.
            mean: bool. If True, return the mean of p(x|z) for each prior draw z
                (the usual picture of "samples"); if False, draw x ~ p(x|z).
            condition: for a conditional VAE, one condition per sample (for
                class labels: ids `[num_samples]` or one-hot rows), or one
                for all.
        """
        seed = self._stateless_seed(seed)
        z_seed, x_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        z = self.prior.sample(int(num_samples), seed=z_seed)
        condition = self.condition.convert(self.condition.per_example(condition, num_samples))
        if mean:
            return self._data_mean(z, condition)
        return self._data_distribution(z, condition).sample(seed=x_seed)

    @deprecation.renamed("labels", "condition")
    def generate(self, seeds, condition=None):
        """One example per seed: the mean of p(x|z) at z drawn from the prior with that seed.
        Deterministic (stateless random numbers): the same seed gives the same
        example, in this process, in another, or behind TF Serving.

        Args:
            seeds: int64 tensor `[batch]`.
            condition: a conditional VAE's conditions, one per seed: the same
                (seed, condition), the same example.

        Returns:
            `(examples, z)`: `[batch, *event_shape]` and `[batch, latent_dim]`.
        """
        z = self.prior_layer.sample_for_seeds(seeds)
        return self._data_mean(z, self.condition.convert(condition)), z

    @deprecation.renamed("labels", "condition")
    def score(self, x, num_samples=100, seed=0, condition=None):
        """Per-example anomaly scores in nats: `kvae.evaluation.score(self, x, num_samples, seed, condition)`."""
        return evaluation.score(self, self._as_inputs(x), num_samples, seed, condition=condition)

    # --- Export -----------------------------------------------------------------

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs):
        """Keras' `Model.export` for a VAE: kvae's SavedModel, or one endpoint as ONNX / LiteRT.
        `format="tf_saved_model"` (default) writes the six-signature SavedModel
        that `kvae.export.export_saved_model` publishes; `"onnx"` and
        `"litert"` write one deterministic endpoint (`endpoint="encode"`,
        `"decode"` or `"reconstruct"`). See `kvae.export.export_model`.

        Example:

        >>> import os, tempfile, kvae
        >>> vae = kvae.build_vae((8, 8, 1), latent_dim=2, hidden_units=(16,))
        >>> folder = tempfile.mkdtemp()
        >>> path = vae.export(os.path.join(folder, "vae"))
        >>> sorted(os.listdir(path))
        ['assets', 'assets.extra', 'fingerprint.pb', 'saved_model.pb', 'variables']
        """

        return export_lib.export_model(self, filepath, format, verbose, input_signature, **kwargs)

    # --- Training ---------------------------------------------------------------

    def _check_array(self, x, y=None):
        # NumPy input is checked on the host, once, before any step runs; a
        # tf.data pipeline is the caller's (kvae.data.make_dataset checks its own).
        if isinstance(x, np.ndarray):
            checks.examples(x, "x")
            self.check_event_shape(x.shape)
            u, _ = self.preprocessing.forward(x)
            self.likelihood.check_data(np.asarray(u), "x")
            if self.conditional:
                if y is None:
                    raise ValueError(
                        "a conditional VAE trains and evaluates on (x, y): pass the conditions as `y`, received x "
                        "alone"
                    )
                self.condition.check(y, len(x), "y")

    @property
    def metrics(self):
        return [
            self.loss_tracker,
            self.reconstruction_tracker,
            self.kl_tracker,
            self.elbo_tracker,
            self.active_units_tracker,
            *self.layer_kl_trackers,
        ]

    @property
    def layer_logs(self):
        """The logs of a hierarchy's layers: `kl_z1` … (when the KL has a term per dimension), `active_units_z1` …."""
        if len(self.latent_layers) == 1:
            return []
        return [t.name for t in self.layer_kl_trackers] + [f"active_units_z{l + 1}" for l in range(len(self.latent_layers))]

    def layer_active_units(self, variances, threshold):
        """Active units per latent layer from the per-dimension variances of the posterior's location `[latent_dim]`."""
        return [tf.reduce_sum(tf.cast(v > threshold, tf.float32)) for v in tf.split(variances, self.latent_layers)]

    @deprecation.renamed("labels", "condition")
    def elbo_terms(self, x, training=False, condition=None):
        """Per-example reconstruction NLL and KL, each `[batch]`, in nats.
        Both are single-sample estimates of the ELBO's terms: the NLL at one
        reparameterised z ~ q(z|x), the KL in closed form. The noise ε is drawn
        for the global batch and each replica takes its own rows, so an example
        gets the same ε however the batch is split across devices.
        """
        forward = self.forward(x, condition, training)
        reconstruction, kl_per_dim, _ = forward.elbo_terms(forward.noise())
        return reconstruction, tf.reduce_sum(kl_per_dim, axis=-1)

    def _data_condition(self, y):
        # The condition of a step's data: its targets for a conditional VAE, nothing otherwise.
        if not self.conditional:
            return None
        if y is None:
            raise self.condition.missing("y")
        return y

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        condition = self._data_condition(y)
        scheduled = self.objective.update(self.optimizer.iterations)
        with tf.GradientTape() as tape:
            per_example_loss, terms = self.objective.compute(self.forward(x, condition, training=True), training=True)
            loss = distribute.global_batch_mean(per_example_loss, sample_weight)
            loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        return self._update_metrics(per_example_loss, *terms, sample_weight, scheduled)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        forward = self.forward(x, self._data_condition(y), training=False)
        per_example_loss, terms = self.objective.compute(forward, training=False)
        return self._update_metrics(per_example_loss, *terms, sample_weight)

    def _update_metrics(self, per_example_loss, reconstruction, kl_per_dim, loc, sample_weight, scheduled=None):
        # Metrics get unscaled per-example values; Keras aggregates them across
        # replicas, so the logs do not depend on the replica count.
        kl = tf.reduce_sum(kl_per_dim, axis=-1)
        self.loss_tracker.update_state(per_example_loss, sample_weight)
        self.reconstruction_tracker.update_state(reconstruction, sample_weight)
        self.kl_tracker.update_state(kl, sample_weight)
        self.elbo_tracker.update_state(-(reconstruction + kl), sample_weight)
        self.active_units_tracker.update_state(loc, sample_weight)
        for tracker, layer_kl in zip(self.layer_kl_trackers, tf.split(kl_per_dim, self.latent_layers, axis=-1)
                                     if self.layer_kl_trackers else []):
            tracker.update_state(tf.reduce_sum(layer_kl, axis=-1), sample_weight)
        logs = {m.name: m.result() for m in self.metrics}
        if len(self.latent_layers) > 1:
            units = self.active_units_tracker
            counts = self.layer_active_units(units.variances(), units.threshold)
            logs.update({f"active_units_z{l + 1}": count for l, count in enumerate(counts)})
        logs.update({name: tf.identity(variable) for name, variable in (scheduled or {}).items()})
        return distribute.step_outputs(logs)

    # --- Evaluation -------------------------------------------------------------

    @deprecation.renamed("labels", "condition")
    def log_likelihood(self, x, num_samples=1000, batch_size=None, seed=0, verbose=0, condition=None):
        """Importance-weighted estimate of log p(x) per example, in nats (`kvae.evaluation.log_likelihood`).
        For a conditional VAE, log p(x|c) given the `condition`. Seeded and
        stateless: it never draws from the training noise generator.
        """

        return evaluation.log_likelihood(
            self, x, num_samples, batch_size=batch_size, seed=seed, verbose=verbose, condition=condition
        )

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
        event_shape = self.event_shape
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
                "seed": self.seed,
                "prior": keras.saving.serialize_keras_object(self.prior_layer),
                "posterior": keras.saving.serialize_keras_object(self.posterior_layer),
                "objective": keras.saving.serialize_keras_object(self.objective),
                "preprocessing": keras.saving.serialize_keras_object(self.preprocessing),
                "condition": keras.saving.serialize_keras_object(self.condition),
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        # Deserialising mutates nested dicts; leave the caller's config intact.
        config = copy.deepcopy(config)
        for key in ("encoder", "decoder", "likelihood", "prior", "posterior", "objective", "preprocessing", "condition"):
            if key in config:  # configs of earlier kvae versions have no prior/posterior/objective
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

