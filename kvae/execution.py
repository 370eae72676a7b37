"""How many training steps `VAE` runs per compiled call when `steps_per_execution="auto"`."""

import math

import keras
import tensorflow as tf

# Steps per call under "auto". Each call of a Keras step function costs a few
# milliseconds of host work and a host sync, as much as the step itself for a
# small MLP VAE on CPU; 32 steps per call amortise it (see `bench/`).
AUTO_STEPS_PER_EXECUTION = 32


_BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_train_batch_begin", "on_train_batch_end")


def auto_steps_per_execution(model, *epoch_steps, callbacks=None):
    """The number of steps per call that `"auto"` means for `model` now.

    One if any of `callbacks` needs every batch (`needs_every_batch`), so
    that "auto" never changes what a callback sees or sets. Otherwise
    `AUTO_STEPS_PER_EXECUTION`, lowered to the largest divisor of every known
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
    """
    if model.run_eagerly or getattr(model, "_distribute_strategy", None) is not None or tf.distribute.has_strategy():
        return 1
    if any(needs_every_batch(callback) for callback in _flatten(callbacks)):
        return 1
    return divisor_at_most(AUTO_STEPS_PER_EXECUTION, *epoch_steps)


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
