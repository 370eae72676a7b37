"""KL annealing: callbacks that set the model's β (or free-bits floor) from a schedule."""

import math

import keras

from kvae import objectives
from kvae import schedules as schedules_lib

UNITS = ("step", "epoch")
VARIABLES = ("beta", "free_bits")


class VariableSchedule(keras.callbacks.Callback):
    """Sets one of the VAE's schedule Variables from `schedule(t)` during `fit`.

    `t` is the global step (`model.optimizer.iterations`, so a resumed run
    continues the schedule where it stopped) or the epoch index. The value is
    assigned to the model's non-trainable `keras.Variable` (a Variable, not a
    Python float, so the compiled step reads the new value without
    re-tracing) and added to the epoch logs under the variable's name, like
    `keras.callbacks.LearningRateScheduler` does: put this callback before
    `CSVLogger` or `TensorBoard` in the list for them to record it.

    Per step, a `kvae.schedules.Schedule` (what `KLWarmup` and
    `CyclicalKLAnnealing` use) is handed to the model for the duration of
    `fit` and evaluated inside the compiled step from `optimizer.iterations`,
    so `VAE`'s `steps_per_execution="auto"` keeps running many steps per call.
    Any other Python callable is called before every batch instead: it sets
    `needs_every_batch`, and "auto" then runs one step per call.

    Args:
        schedule: `kvae.schedules.Schedule` or callable. `t` (int) → value
            (float >= 0).
        variable: str. `"beta"` (the KL weight) or `"free_bits"` (the floor λ
            in nats per latent dimension).
        unit: str. `"step"` or `"epoch"`.

    Example:

    >>> import numpy as np, keras, kvae
    >>> vae = kvae.build_vae((4,), latent_dim=2, hidden_units=8, likelihood="gaussian_fixed")
    >>> vae.compile(optimizer="adam")
    >>> halve = kvae.callbacks.VariableSchedule(lambda epoch: 0.5 ** epoch, unit="epoch")
    >>> history = vae.fit(np.zeros((8, 4), "float32"), epochs=3, verbose=0, callbacks=[halve])
    >>> history.history["beta"]
    [1.0, 0.5, 0.25]
    """

    def __init__(self, schedule, variable="beta", unit="step"):
        super().__init__()
        if not callable(schedule):
            raise ValueError(f"`schedule` must be callable (t -> value), received: {schedule!r}")
        if variable not in VARIABLES:
            raise ValueError(f"`variable` must be one of {list(VARIABLES)}, received: {variable!r}")
        if unit not in UNITS:
            raise ValueError(f"`unit` must be one of {list(UNITS)}, received: {unit!r}")
        self.schedule = schedule
        self.variable = variable
        self.unit = unit

    @property
    def in_step(self):
        """Whether the compiled step evaluates the schedule (per step, a `kvae.schedules.Schedule`)."""
        return self.unit == "step" and isinstance(self.schedule, schedules_lib.Schedule)

    @property
    def needs_every_batch(self):
        # A per-step Python schedule must set β before every step (see kvae.execution).
        return self.unit == "step" and not self.in_step

    def _target(self):
        target = getattr(self.model, self.variable, None)
        if not isinstance(target, keras.Variable):
            raise ValueError(
                f"`{type(self).__name__}` needs a model with a `{self.variable}` keras.Variable "
                f"(a kvae.VAE whose objective has one, e.g. kvae.objectives.ELBO), received a "
                f"{type(self.model).__name__}"
            )
        return target

    def _set(self, t):
        value = float(self.schedule(int(t)))
        if not (value >= 0 and math.isfinite(value)):
            raise ValueError(
                f"`schedule` must return a finite value >= 0 for `{self.variable}`, "
                f"received {value!r} at {self.unit} {int(t)}"
            )
        self._target().assign(value)

    def on_train_begin(self, logs=None):
        self._target()  # fail before the first step, not in it
        if self.variable == "free_bits":
            try:
                self.model.check_parts([objectives.FREE_BITS])
            except ValueError as error:
                raise ValueError(f"`{type(self).__name__}` of {error}") from None
        if self.in_step and self.model.objective.set_fit_schedule(self.variable, self.schedule):
            self.model.make_train_function(force=True)  # trace the step with the schedule

    def on_train_end(self, logs=None):
        if self.in_step:
            # The variable keeps the last step's value, as if set before each batch.
            self.model.objective.set_fit_schedule(self.variable, None)
            self.model.train_function = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.unit == "epoch":
            self._set(epoch)
        elif not self.in_step:
            # One host read per epoch; `batch` below counts the steps within it.
            self._epoch_start = int(self.model.optimizer.iterations.numpy())

    def on_train_batch_begin(self, batch, logs=None):
        if self.unit == "step" and not self.in_step:
            self._set(self._epoch_start + batch)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs[self.variable] = float(self._target().numpy())


class KLWarmup(VariableSchedule):
    """Linear KL warm-up: β goes from `start` to `end` over `duration` steps (or epochs).

        β(t) = start + (end − start) · min(1, t / duration)

    The usual remedy for posterior collapse (Bowman et al., 2016; Sønderby et
    al., 2016): early on the decoder learns to use z before the KL term pulls
    q(z|x) onto the prior. While β < 1 the logged `loss` is not the −ELBO
    and is smaller for smaller β: have `ModelCheckpoint`, `EarlyStopping`
    and `ReduceLROnPlateau` monitor `"val_elbo"` with `mode="max"`, which
    does not depend on β.

    Args:
        duration: int. Steps (or epochs) to reach `end`, > 0.
        start: float. β at t = 0, >= 0.
        end: float. β from t = duration on, >= 0.
        unit: str. `"step"` (default) or `"epoch"`.
        variable: str. `"beta"` (default) or `"free_bits"`.

    Per step it is `kvae.schedules.Warmup`, evaluated inside the compiled
    step (so `fit` keeps several steps per call); the same schedule can be
    given to the model instead, `build_vae(..., beta=kvae.schedules.Warmup(...))`,
    which also saves it with the model.

    Example:

    >>> import kvae
    >>> warmup = kvae.callbacks.KLWarmup(duration=4)
    >>> [float(warmup.schedule(t)) for t in range(6)]
    [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    """

    def __init__(self, duration, start=0.0, end=1.0, unit="step", variable="beta"):
        schedule = schedules_lib.Warmup(duration, start, end)
        self.duration, self.start, self.end = schedule.duration, schedule.start, schedule.end
        super().__init__(schedule, variable=variable, unit=unit)


class CyclicalKLAnnealing(VariableSchedule):
    """Cyclical annealing (Fu et al., 2019): repeated linear ramps of β.

    Within each cycle of `period` steps (or epochs), β rises linearly from
    `low` to `high` over the first `ratio` of the cycle and stays at `high`
    for the rest:

        τ = (t mod period) / period,   β(t) = low + (high − low) · min(1, τ / ratio)

    Args:
        period: int. Length of one cycle, > 0.
        ratio: float. Fraction of the cycle spent rising, in (0, 1].
        low: float. β at the start of each cycle, >= 0.
        high: float. β at the plateau, >= 0.
        unit: str. `"step"` (default) or `"epoch"`.
        variable: str. `"beta"` (default) or `"free_bits"`.

    Example:

    >>> import kvae
    >>> cycles = kvae.callbacks.CyclicalKLAnnealing(period=4, ratio=0.5)
    >>> [float(cycles.schedule(t)) for t in range(8)]
    [0.0, 0.5, 1.0, 1.0, 0.0, 0.5, 1.0, 1.0]
    """

    def __init__(self, period, ratio=0.5, low=0.0, high=1.0, unit="step", variable="beta"):
        schedule = schedules_lib.Cyclical(period, ratio, low, high)
        self.period, self.ratio = schedule.period, schedule.ratio
        self.low, self.high = schedule.low, schedule.high
        super().__init__(schedule, variable=variable, unit=unit)
