"""The checks every part and every model passes, in the spirit of keras-hub's `TestCase.run_*`.

Each `run_*` function builds what it needs, asserts, and raises `AssertionError`
with what differed; none skips. `run_part_test` puts one part into a small VAE
and runs them all, so a part defined outside kvae is tested exactly as the
built-in ones are.

The checks of meaning (fit, saving, replicas, mixed precision) train eagerly
(`run_eagerly=True`): the same steps without seconds of tracing per model. The
`jit` check compiles the step with XLA, and `export` traces every signature,
as users' runs and TF Serving do.
"""

import functools
import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

from kvae import optimizers
from kvae.build import build_vae
from kvae.testing import catalog

# The logs every objective reports.
LOGS = ("active_units", "elbo", "kl", "loss", "reconstruction")
CHECKS = ("serialization", "fit", "jit", "saving", "export", "replicas", "mixed_precision")


def data(input_shape=(6,), n=16, seed=0):
    """Examples of 8-bit levels k/255 in (0.05, 0.95), which every built-in likelihood's support holds."""
    levels = np.random.default_rng(seed).integers(13, 243, size=(n, *input_shape), endpoint=True)
    return (levels / 255).astype("float32")


def clone(part):
    """A new, unbuilt part with `part`'s configuration (through Keras' serialization)."""
    return keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(part))


def small_vae(parts=(), input_shape=(6,), latent_dim=3, seed=0, dtype=None):
    """A small MLP VAE holding fresh copies of `parts` (instances, each in its `role`)."""
    keras.utils.set_random_seed(seed)  # the same initial weights for the same call
    roles = {part.role: clone(part) for part in parts}
    return build_vae(input_shape, latent_dim, hidden_units=(8,), seed=seed, dtype=dtype, **roles)


def conditions_for(model, x):
    """Valid conditions for the examples `x` (`Condition.example`), or None for an unconditional model."""
    return model.condition.example(len(x))


def run_serialization_test(part):
    """The part's config round-trips through `from_config` and Keras' serialization, unchanged."""
    config = part.get_config()
    revived = type(part).from_config(config)
    _equal(revived.get_config(), config, f"{type(part).__name__}.from_config(get_config())")
    revived = clone(part)
    assert type(revived) is type(part), f"deserialised a {type(revived).__name__}, expected {type(part).__name__}"
    _equal(revived.get_config(), config, f"Keras serialization of {type(part).__name__}")


def run_fit_test(build, x, jit_compile=False, epochs=2, expect_jit=True, run_eagerly=True):
    """`fit` and `evaluate` give finite logs with every metric; `jit_compile=True` trains with XLA.

    A part that cannot run under XLA says so with the Keras layer attribute
    `supports_jit = False` (`expect_jit=False`), and Keras then trains
    without it; every other model must train under XLA, never crash in `fit`.
    """
    model = build()
    run_eagerly = run_eagerly and not jit_compile
    model.compile(optimizer=optimizers.Adam(1e-3), jit_compile=jit_compile, run_eagerly=run_eagerly)
    if jit_compile:
        assert bool(model.jit_compile) == expect_jit, f"jit_compile is {model.jit_compile}, expected {expect_jit}"
    y = conditions_for(model, x)
    history = model.fit(x, y, batch_size=8, epochs=epochs, verbose=0, shuffle=False)
    logs = sorted(LOGS + tuple(model.layer_logs))  # and a hierarchy's per layer
    assert sorted(history.history) == logs, f"fit logged {sorted(history.history)}, expected {logs}"
    for name, values in history.history.items():
        assert np.all(np.isfinite(values)), f"fit logged a non-finite {name}: {values}"
    if not jit_compile:  # evaluate's step is the train step's terms without the update
        result = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
        assert sorted(result) == logs and all(np.isfinite(v) for v in result.values()), f"evaluate gave {result}"
    return model


def run_saving_test(build, x, folder=None, model=None):
    """A trained model saved as `.keras` reloads with the same weights, numbers and noise state.

    `model`: the trained model to save (default: one `run_fit_test` trains here).
    """
    model = run_fit_test(build, x, epochs=1) if model is None else model
    folder = folder or tempfile.mkdtemp()
    path = os.path.join(folder, "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(b, a, err_msg="a weight changed in the .keras round trip")
    c = conditions_for(model, x)
    np.testing.assert_allclose(loaded.log_likelihood(x, num_samples=8, condition=c),
                               model.log_likelihood(x, num_samples=8, condition=c),
                               rtol=1e-6, err_msg="log_likelihood changed in the .keras round trip")
    np.testing.assert_array_equal(loaded.seed_generator.state.numpy(), model.seed_generator.state.numpy())
    _equal(loaded.get_config(), model.get_config(), "the model's config after the .keras round trip")


def run_export_test(build, x, folder=None, score_samples=4, model=None):
    """The exported SavedModel's signatures give what the Keras methods give.

    `model`: the trained model to export (default: one `run_fit_test` trains here).
    """
    model = run_fit_test(build, x, epochs=1) if model is None else model
    folder = folder or tempfile.mkdtemp()
    path = model.export(os.path.join(folder, "served"), verbose=False, score_samples=score_samples)
    served = tf.saved_model.load(str(path)).signatures
    z = np.random.default_rng(1).normal(size=(len(x), model.latent_dim)).astype("float32")
    seeds = np.arange(len(x), dtype="int64")
    c = conditions_for(model, x)
    expected = {
        "encode": model.posterior_layer.outputs(model.encode(x, condition=c)),
        "reconstruct": {"reconstruction": model.reconstruct(x, condition=c)},
        "decode": model.preprocessing.data_parameters(
            model.likelihood.parameters(model.decoder_params(z, condition=c))),
        "generate": dict(zip(("sample", "z"), model.generate(seeds, condition=c))),
        "score": model.score(x, num_samples=score_samples, condition=c),
    }
    inputs = {"encode": {"x": x}, "reconstruct": {"x": x}, "decode": {"z": z}, "generate": {"seed": seeds},
              "score": {"x": x}}
    spec = model.condition.spec()
    if spec is not None:  # the served condition, as its part declares it
        inputs = {name: {**values, spec.name: c.astype(spec.dtype.as_numpy_dtype)} for name, values in inputs.items()}
    for name, outputs in expected.items():
        got = served[name](**{k: tf.constant(v) for k, v in inputs[name].items()})
        for key, value in outputs.items():
            np.testing.assert_allclose(got[key], value, rtol=1e-5, atol=1e-5, err_msg=f"served {name}/{key}")


def run_replica_test(build, x, batch_size=8):
    """Two mirrored replicas take the same steps as one device (needs `configure_logical_cpus(2)`)."""
    cpus = tf.config.list_logical_devices("CPU")
    assert len(cpus) >= 2, (
        f"the replica check needs 2 logical CPUs, found {len(cpus)}: call "
        "kvae.testing.configure_logical_cpus(2) before TensorFlow starts"
    )
    weights = []
    for strategy in (tf.distribute.get_strategy(), _mirrored(tuple(c.name for c in cpus[:2]))):
        with strategy.scope():
            model = build()
            model.compile(optimizer=optimizers.Adam(1e-2), run_eagerly=True)
        model.fit(x, conditions_for(model, x), batch_size=batch_size, epochs=1, verbose=0, shuffle=False)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6, err_msg="2 replicas trained other weights than 1")


def run_mixed_precision_test(build_with_dtype, x):
    """Under `mixed_bfloat16` the model trains, and its distributions and outputs are float32."""
    model = run_fit_test(lambda: build_with_dtype("mixed_bfloat16"), x, epochs=1)
    c = conditions_for(model, x)
    assert model.encode(x, condition=c).dtype == tf.float32 and model.prior.dtype == tf.float32
    assert model.reconstruct(x, condition=c).dtype == tf.float32
    assert np.all(np.isfinite(model.log_likelihood(x, num_samples=4, condition=c)))


def run_part_test(part, checks=CHECKS, x=None, folder=None, companions=()):
    """Runs `checks` on a small VAE holding a copy of `part` (a prior, posterior, objective, likelihood, ...).

    Args:
        part: an instance of a `kvae` part class (built-in or your own).
        checks: names from `CHECKS`.
        x: data for the model, `[n, 6]` 8-bit levels in (0, 1) by default.
        folder: where saved files go (a new temporary folder by default).
        companions: other parts the model needs with this one (e.g. a
            Gaussian likelihood for a preprocessing whose outputs leave [0, 1]).
            What the part's `requirements()` name is added: the first
            registered provider of each (`companions_for`).

    Example:

    >>> import kvae
    >>> kvae.testing.run_part_test(kvae.priors.GaussianMixture(3, seed=0), checks=("serialization", "fit"))
    """
    unknown = set(checks) - set(CHECKS)
    if unknown:
        raise ValueError(f"`checks` must be among {list(CHECKS)}, received: {sorted(unknown)}")
    x = data() if x is None else x
    companions = [*companions, *catalog.companions_for(part, companions)]
    build = lambda dtype=None: small_vae([part, *companions], input_shape=x.shape[1:], dtype=dtype)  # noqa: E731
    run_model_test(build, x, checks, folder, part=part)


def run_model_test(build, x, checks=CHECKS, folder=None, part=None):
    """Runs `checks` on the models `build(dtype=None)` makes (a fresh one per check)."""
    if "serialization" in checks and part is not None:
        run_serialization_test(part)
    if "fit" in checks:
        run_fit_test(build, x)
    if "jit" in checks:
        run_fit_test(build, x, jit_compile=True, epochs=1, expect_jit=part is None or part.supports_jit)
    # Saving and export check one trained model: neither changes it.
    trained = run_fit_test(build, x, epochs=1) if {"saving", "export"} <= set(checks) else None
    if "saving" in checks:
        run_saving_test(build, x, folder, model=trained)
    if "export" in checks:
        run_export_test(build, x, folder, model=trained)
    if "replicas" in checks:
        run_replica_test(build, x)
    if "mixed_precision" in checks:
        run_mixed_precision_test(build, x)


@functools.cache
def _mirrored(devices):
    # One strategy per process: a second MirroredStrategy's eager collectives reuse the first's
    # instance keys, and the two then fail with "Shape mismatch in the collective instance".
    return tf.distribute.MirroredStrategy(list(devices))


def configure_logical_cpus(n=2):
    """Splits the CPU into `n` logical devices for the replica check; call before TensorFlow starts."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)


def _equal(a, b, what):
    assert _plain(a) == _plain(b), f"{what} differs:\n{a}\n!=\n{b}"


def _plain(value):
    # Tuples and lists are the same once serialised (JSON has one sequence type).
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
