"""How `VAE` runs under Keras' `compile`/`fit`/`evaluate`/`predict`: steps per call, NumPy input.

`KerasExecution` is the one place where kvae changes what Keras' training loop
does: `steps_per_execution="auto"` and NumPy arrays on `make_dataset`'s
pipeline (`kvae.data.arrays`). It uses two private Keras names, both checked
against Keras 3.15: the trainer's `_distribute_strategy` (a model built under a
strategy: public `distribute_strategy` falls back to the default strategy, so
it cannot tell) and `evaluate`'s `_use_cached_eval_dataset` keyword (fit's own
validation call, whose data Keras has already turned into a dataset).
"""

import inspect
import math

import keras
import tensorflow as tf

from kvae import distribute
from kvae.data import arrays

# Steps per call under "auto". Each call of a Keras step function costs a few
# milliseconds of host work and a host sync, as much as the step itself for a
# small MLP VAE on CPU; 32 steps per call amortise it (see `bench/`).
AUTO_STEPS_PER_EXECUTION = 32


_BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_train_batch_begin", "on_train_batch_end")


def auto_steps_per_execution(model, *epoch_steps, callbacks=None, limit=AUTO_STEPS_PER_EXECUTION):
    """The number of steps per call that `"auto"` means for `model` now.

    Also the safe form of an explicit count: pass it as `limit`.

    One if any of `callbacks` needs every batch (`needs_every_batch`), so
    that "auto" never changes what a callback sees or sets. Otherwise
    `limit` (default `AUTO_STEPS_PER_EXECUTION`), lowered to the largest divisor of every known
    epoch length in `epoch_steps` (`steps_per_epoch`, `validation_steps`,
    `steps`; None when unknown): Keras runs whole calls on an endless
    dataset, so a call that crossed an epoch boundary would make the epoch
    longer than asked. One step per call when running eagerly (to debug)
    or under a `tf.distribute` strategy: Keras 3.15's multi-step loop fails
    under `MultiWorkerMirroredStrategy` ("You must feed a value for
    placeholder tensor").

    Example:

    >>> import kvae
    >>> vae = kvae.build_vae((4,), latent_dim=2, hidden_units=8)
    >>> vae.compile()
    >>> kvae.execution.auto_steps_per_execution(vae), kvae.execution.auto_steps_per_execution(vae, 40)
    (32, 20)
    >>> kvae.execution.auto_steps_per_execution(vae, 40, limit=16)
    10
    """
    if model.run_eagerly or getattr(model, "_distribute_strategy", None) is not None or tf.distribute.has_strategy():
        return 1
    if any(needs_every_batch(callback) for callback in _flatten(callbacks)):
        return 1
    return divisor_at_most(limit, *epoch_steps)


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
            optimizer: str or `keras.optimizers.Optimizer`.
            steps_per_execution: int or `"auto"` (default). Training steps per
                compiled call. `"auto"` runs 32 (about 1.4× the throughput of
                1 for an MLP VAE on CPU), lowered to a divisor of
                `steps_per_epoch` when `fit` is given one, and 1 under a
                `tf.distribute` strategy, with `run_eagerly=True`, or when
                a callback needs every batch (a per-step schedule given as a
                Python function, a user callback with per-batch hooks; see
                `kvae.execution.needs_every_batch`). The maths is the same;
                Keras' own callbacks' per-batch hooks (progress bar,
                `TerminateOnNaN`) then run once per call.
            *args, **kwargs: the rest of `keras.Model.compile`'s arguments.
        """
        self._auto_steps_per_execution = steps_per_execution == "auto"
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
        if iterator is not None and getattr(self, "_distribute_strategy", None) is not None:
            with self._distribute_strategy.scope():
                for _, _, batches in iterator:
                    data_batch = distribute.first_replica_batch(next(batches))
                    break
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def fit(self, x=None, y=None, *args, **kwargs):
        """Keras' `fit`; NumPy arrays take `make_dataset`'s fast pipeline (see `kvae.data.arrays`)."""
        self._check_array(x, y)
        bound = _bind(keras.Model.fit, self, x, y, *args, **kwargs)
        self._resolve_steps_per_execution(
            bound.get("steps_per_epoch"), bound.get("validation_steps"), callbacks=bound.get("callbacks")
        )
        fast = arrays.fit_arguments(bound)
        if fast is not None:
            return super().fit(**fast)
        return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        """Keras' `evaluate`; NumPy arrays take `make_dataset`'s fast pipeline."""
        self._check_array(x, y)
        if kwargs.get("_use_cached_eval_dataset"):  # fit's own validation: already a dataset
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

    def _resolve_steps_per_execution(self, *epoch_steps, callbacks=None):
        if not getattr(self, "_auto_steps_per_execution", False):
            return
        steps = auto_steps_per_execution(self, *epoch_steps, callbacks=callbacks)
        if steps != self.steps_per_execution:
            # The step loop is traced with the count: trace it again.
            self.steps_per_execution = steps
            self.train_function = self.test_function = self.predict_function = None


def _bind(method, *args, **kwargs):
    # The arguments of a call of `method` by name, without `self` (unknown ones are left to Keras).
    try:
        arguments = dict(inspect.signature(method).bind(*args, **kwargs).arguments)
    except TypeError:
        return {}
    arguments.pop("self", None)
    arguments.update(arguments.pop("kwargs", {}))
    return arguments
