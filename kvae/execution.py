"""How `VAE` runs under Keras' `compile`/`fit`/`evaluate`/`predict`: steps per call, NumPy input.

`KerasExecution` is the one place where kvae changes what Keras' training loop
does: `steps_per_execution="auto"`, epochs that end where `steps_per_epoch`
says whatever the count (`make_train_function`, over Keras' public
`train_step`), and NumPy arrays on `make_dataset`'s pipeline
(`kvae.data.arrays`). The private Keras names it needs are reached through
`kvae.keras_internals`, with their reasons.
"""

import inspect
import math

import keras
import tensorflow as tf

from kvae import distribute
from kvae import keras_internals
from kvae import optimizers
from kvae.data import arrays

# Steps per call under "auto". Each call of a Keras step function costs a few
# milliseconds of host work and a host sync, as much as the step itself for a
# small MLP VAE on CPU; 32 steps per call amortise it (see `bench/`).
AUTO_STEPS_PER_EXECUTION = 32


_BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_train_batch_begin", "on_train_batch_end")


def auto_steps_per_execution(model, *epoch_steps, callbacks=None, limit=AUTO_STEPS_PER_EXECUTION,
                             train_steps=None):
    """The number of steps per call that `"auto"` means for `model` now.

    Also the safe form of an explicit count: pass it as `limit`.

    One if any of `callbacks` needs every batch (`needs_every_batch`), so
    that "auto" never changes what a callback sees or sets. Otherwise
    `limit` (default `AUTO_STEPS_PER_EXECUTION`), lowered to the largest
    divisor of every known length in `epoch_steps` (`validation_steps`,
    `evaluate`'s `steps`, a backup interval; None when unknown): Keras runs
    whole calls, so a call that crossed the end of `steps` batches of an
    endless dataset would take more than asked. A training epoch of
    `train_steps` need not be divided: `KerasExecution` runs an epoch's
    last `train_steps % count` steps as one shorter call of the same traced
    function. One step per call when running eagerly (to debug) or under a
    `tf.distribute` strategy: Keras 3.15's multi-step loop fails under
    `MultiWorkerMirroredStrategy` ("You must feed a value for placeholder
    tensor").

    Example:

    >>> import kvae
    >>> vae = kvae.build_vae((4,), latent_dim=2, hidden_units=8)
    >>> vae.compile()
    >>> kvae.execution.auto_steps_per_execution(vae), kvae.execution.auto_steps_per_execution(vae, 40)
    (32, 20)
    >>> kvae.execution.auto_steps_per_execution(vae, 40, limit=16)
    10
    >>> kvae.execution.auto_steps_per_execution(vae, train_steps=422)  # 13 calls of 32, then one of 6
    32
    >>> kvae.execution.auto_steps_per_execution(vae, train_steps=4)  # an epoch shorter than 32 steps
    4
    """
    if model.run_eagerly or keras_internals.strategy_built_under(model) is not None or tf.distribute.has_strategy():
        return 1
    if any(needs_every_batch(callback) for callback in _flatten(callbacks)):
        return 1
    count = divisor_at_most(limit, *epoch_steps)
    return min(count, int(train_steps)) if train_steps else count  # a shorter epoch: one call of all of it


def divisor_at_most(limit, *epoch_steps):
    """The largest count <= `limit` that divides every known (non-None) epoch length.

    Example:

    >>> from kvae.execution import divisor_at_most
    >>> divisor_at_most(32, 40), divisor_at_most(32, 469), divisor_at_most(32, None), divisor_at_most(32, 40, 12)
    (20, 7, 32, 4)
    """
    known = [int(s) for s in epoch_steps if s]
    if not known:
        return limit
    common = math.gcd(*known)
    return max(d for d in range(1, min(limit, common) + 1) if common % d == 0)


def needs_every_batch(callback):
    """Whether `callback` must run before or after every training batch.

    A callback says so with a `needs_every_batch` attribute (kvae's schedule
    callbacks do: true only for a per-step schedule that is a plain Python
    function; `KLWarmup` and `CyclicalKLAnnealing` are evaluated inside the
    compiled step and need no batch hook). Otherwise Keras' own
    callbacks are written for `steps_per_execution` and do not need it
    (`TerminateOnNaN`, say, stops up to 31 steps later); a `LambdaCallback`
    given a per-batch hook, or any other callback that overrides one, does.

    Example:

    >>> import keras, kvae
    >>> from kvae.execution import needs_every_batch
    >>> needs_every_batch(keras.callbacks.TerminateOnNaN())
    False
    >>> needs_every_batch(kvae.callbacks.KLWarmup(duration=1000))  # per step, inside the step
    False
    >>> needs_every_batch(kvae.callbacks.VariableSchedule(lambda t: min(1, t / 1000)))  # per batch
    True
    """
    declared = getattr(callback, "needs_every_batch", None)
    if declared is not None:
        return bool(declared)
    if isinstance(callback, keras.callbacks.LambdaCallback):
        return any(hook in vars(callback) for hook in _BATCH_HOOKS)  # set per instance
    cls = type(callback)
    if cls.__module__.startswith("keras."):
        return False
    return any(getattr(cls, hook, None) is not getattr(keras.callbacks.Callback, hook) for hook in _BATCH_HOOKS)


def _flatten(callbacks):
    if callbacks is None:
        return []
    return list(getattr(callbacks, "callbacks", callbacks))


def _xla_for_bfloat16_on_cpu(model, compile_kwargs):
    # Where kvae's jit_compile="auto" differs from Keras' (which leaves XLA off on CPU): bfloat16
    # compute, eager off, no strategy (Keras' "auto" leaves those off too), every layer XLA-ready.
    if compile_kwargs.get("run_eagerly") or model.dtype_policy.compute_dtype != "bfloat16":
        return False
    if keras_internals.strategy_built_under(model) is not None or tf.distribute.has_strategy():
        return False
    return not tf.config.list_physical_devices("GPU") and keras_internals.supports_xla(model)


class KerasExecution:
    """Mixin for a `keras.Model`: kvae's `steps_per_execution="auto"` and the NumPy fast path.

    The model may define `_check_array(x, y)`, called on `fit`/`evaluate` data
    before any step runs.
    """

    def compile(self, optimizer="adam", *args, steps_per_execution="auto", **kwargs):
        """Configures training; Keras' `compile` with kvae's defaults.

        The model defines its own loss and metrics, so usually only
        `optimizer` is passed (default Adam, learning rate 1e-3).

        Args:
            optimizer: str or `keras.optimizers.Optimizer`. `"adam"` (the
                default) is `kvae.optimizers.Adam()`: Keras' Adam with each
                update one fused kernel (same maths, faster steps); any other
                name, or an optimizer instance (a `keras.optimizers.Adam`
                too), is used as given.
            steps_per_execution: int or `"auto"` (default). Training steps per
                compiled call. `"auto"` runs 32 (about 1.4× the throughput of
                1 for an MLP VAE on CPU); an epoch of `steps_per_epoch`
                ends where it should (its last steps run as one shorter
                call, see `auto_steps_per_execution`); 1 under a
                `tf.distribute` strategy, with `run_eagerly=True`, or when
                a callback needs every batch (a per-step schedule given as a
                Python function, a user callback with per-batch hooks; see
                `kvae.execution.needs_every_batch`). The maths is the same;
                Keras' own callbacks' per-batch hooks (progress bar,
                `TerminateOnNaN`) then run once per call.
            jit_compile: bool or `"auto"` (default). Keras' `"auto"` turns
                XLA on with a GPU; kvae's also turns it on for a bfloat16
                policy (`dtype="mixed_bfloat16"`) on CPU, where XLA fuses the
                casts into the element-wise work (faster steps on CPU, see
                `bench/ablations.py`), unless under a
                `tf.distribute` strategy or `run_eagerly=True`. In float32
                it stays off on CPU (no faster there).
            *args, **kwargs: the rest of `keras.Model.compile`'s arguments.
        """
        self._auto_steps_per_execution = steps_per_execution == "auto"
        if isinstance(optimizer, str) and optimizer.lower() == "adam":
            optimizer = optimizers.Adam()
        if kwargs.get("jit_compile", "auto") == "auto" and _xla_for_bfloat16_on_cpu(self, kwargs):
            kwargs["jit_compile"] = True  # resolved like Keras' "auto", which records its outcome in the config
        super().compile(optimizer, *args, steps_per_execution=steps_per_execution, **kwargs)
        if self._auto_steps_per_execution:
            self.steps_per_execution = auto_steps_per_execution(self)

    def compile_from_config(self, config):
        # Keras skips models whose `compile` is overridden; ours takes its arguments.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if hasattr(self, "optimizer") and self.built:
            self.optimizer.build(self.trainable_variables)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras' peek at the first distributed batch, without its whole-batch
        # reduce that MultiWorkerMirroredStrategy cannot do for an (x, y) pair
        # (see kvae.distribute.first_replica_batch).
        iterator, data_batch = keras_internals.symbolic_build_from_first_replica(
            self, iterator, data_batch, distribute.first_replica_batch)
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def fit(self, x=None, y=None, *args, **kwargs):
        """Keras' `fit`; NumPy arrays take `make_dataset`'s fast pipeline (see `kvae.data.arrays`)."""
        self._check_array(x, y)
        bound = _bind(keras.Model.fit, self, x, y, *args, **kwargs)
        # Checked before anything changes: the model is left as it was.
        if bound.get("sample_weight") is not None and bound.get("y") is None and arrays.is_array(x) \
                and keras_internals.strategy_built_under(self) is not None:
            raise ValueError(
                "`sample_weight` without `y` cannot be fed to a model under a tf.distribute strategy (its "
                "iterator carries no None entry): pass `y` too (any array of len(x) rows, e.g. "
                "np.zeros((len(x), 0)), for an unconditional VAE, which ignores it)")
        self._resolve_steps_per_execution(
            bound.get("validation_steps"), callbacks=bound.get("callbacks"), train_steps=bound.get("steps_per_epoch")
        )
        self._set_epoch_steps(bound.get("steps_per_epoch"))
        fast = arrays.fit_arguments(bound)
        if fast is not None:
            return super().fit(**fast)
        return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        """Keras' `evaluate`; NumPy arrays take `make_dataset`'s fast pipeline."""
        self._check_array(x, y)
        if kwargs.get(keras_internals.CACHED_EVAL_DATASET):  # fit's own validation: already a dataset
            return super().evaluate(x, y, *args, **kwargs)
        bound = _bind(keras.Model.evaluate, self, x, y, *args, **kwargs)
        self._resolve_steps_per_execution(bound.get("steps"))
        fast = arrays.evaluate_arguments(bound)
        if fast is not None:
            return super().evaluate(**fast)
        return super().evaluate(x, y, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        """Keras' `predict`; NumPy arrays take the fast pipeline."""
        fast = arrays.evaluate_arguments(_bind(keras.Model.predict, self, x, *args, **kwargs))
        if fast is not None:
            return super().predict(**fast)
        return super().predict(x, *args, **kwargs)

    def _check_array(self, x, y=None):
        pass

    def make_train_function(self, force=False):
        """Keras' train function, which on an epoch of known length stops each epoch at its end.

        Keras runs `steps_per_execution` steps per call, so on an endless
        dataset the last call of an epoch whose length it does not divide
        would take batches of the next epoch. Then every call runs one traced
        function whose step count is an argument (`_StepLoop`): whole calls
        up to the epoch's last `steps % steps_per_execution` steps, which run
        as one shorter call, with no second trace.
        """
        if self.train_function is not None and not force:
            return self.train_function
        self._build_optimizer()
        super().make_train_function(force)
        epoch_steps, count = getattr(self, "_epoch_steps", None), self.steps_per_execution
        if epoch_steps and count > 1 and epoch_steps % count and not self.run_eagerly \
                and not tf.distribute.has_strategy() and keras_internals.strategy_built_under(self) is None:
            self.train_function = _EpochCalls(_StepLoop(self), epoch_steps, count)
        return self.train_function

    def _build_optimizer(self):
        # Keras builds the optimizer before the first trace only under a
        # strategy; otherwise its slots are created inside the traced step,
        # and `tf.function` then traces the whole step a second time (it
        # retraces any function that created variables). Built here, a first
        # `fit` traces its step once: about a second less for a small VAE.
        optimizer = getattr(self, "optimizer", None)
        if optimizer is None or optimizer.built or not self.built:
            return
        if not all(layer.built for layer in self._flatten_layers()):
            return
        with self.distribute_strategy.scope():
            optimizer.build(self.trainable_variables)

    def _set_epoch_steps(self, steps):
        # The training epoch's length (None: until the data ends), for `make_train_function`.
        if steps != getattr(self, "_epoch_steps", None):
            self._epoch_steps = steps
            self.train_function = None
        elif isinstance(self.train_function, _EpochCalls):
            self.train_function.done = 0  # a new fit starts an epoch

    def _resolve_steps_per_execution(self, *epoch_steps, callbacks=None, train_steps=None):
        if not getattr(self, "_auto_steps_per_execution", False):
            return
        steps = auto_steps_per_execution(self, *epoch_steps, callbacks=callbacks, train_steps=train_steps)
        if steps != self.steps_per_execution:
            # The step loop is traced with the count: trace it again.
            self.steps_per_execution = steps
            self.train_function = self.test_function = self.predict_function = None


class _StepLoop:
    """Up to `steps` training steps of `model` in one call, `steps` a tensor: one trace serves every count.

    The loop is Keras' multi-step loop (`train_step` on each batch, stopping
    early when the iterator runs out) with the count as an argument instead
    of a constant of the trace. Returns the steps run and the last step's logs.
    """

    def __init__(self, model):
        # As Keras traces its own step functions: without AutoGraph, XLA when the model asks for it.
        self.step = tf.function(model.train_step, reduce_retracing=True, jit_compile=model.jit_compile,
                                autograph=False)
        self.loop = tf.function(self._loop, reduce_retracing=True, autograph=False)

    def _loop(self, iterator, steps):
        traced = self.step.get_concrete_function(iterator.element_spec).structured_outputs
        no_logs = tf.nest.map_structure(lambda t: tf.zeros(t.shape, t.dtype), traced)

        def more(i, logs, batch):
            return tf.logical_and(i < steps, batch.has_value())

        def step(i, logs, batch):
            logs = self.step(batch.get_value())
            batch = tf.cond(i + 1 < steps, iterator.get_next_as_optional, lambda: batch)
            return i + 1, logs, batch

        done, logs, _ = tf.while_loop(more, step, (tf.constant(0), no_logs, iterator.get_next_as_optional()))
        return done, logs

    def __call__(self, iterator, steps):
        done, logs = self.loop(iterator, tf.constant(steps, tf.int32))
        return int(done), logs


class _EpochCalls:
    """A train function: `count` steps per call, and an epoch's last `epoch_steps % count` as one call."""

    def __init__(self, loop, epoch_steps, count):
        self.loop, self.epoch_steps, self.count = loop, epoch_steps, count
        self.done = 0  # steps of the current epoch

    def __call__(self, iterator):
        done, logs = self.loop(iterator, min(self.count, self.epoch_steps - self.done))
        if not done:
            raise StopIteration  # the data ran out, as Keras' own train function says
        self.done += done
        if self.done == self.epoch_steps:
            self.done = 0
        return logs


def _bind(method, *args, **kwargs):
    # The arguments of a call of `method` by name, without `self` (unknown ones are left to Keras).
    try:
        arguments = dict(inspect.signature(method).bind(*args, **kwargs).arguments)
    except TypeError:
        return {}
    arguments.pop("self", None)
    arguments.update(arguments.pop("kwargs", {}))
    return arguments
