"""Schedules of β and the free-bits floor, evaluated inside the compiled training step.

A schedule maps the optimizer's step counter to a value, the way a Keras
`LearningRateSchedule` maps it to a learning rate: `VAE`'s `train_step` calls
it with `optimizer.iterations`, so the value changes at every step without a
per-batch callback (which would force one step per compiled call) and a resumed
run, whose optimizer restores its counter, continues the schedule exactly.
"""

import keras
from keras import ops

from kvae import checks


@keras.saving.register_keras_serializable(package="kvae")
class Schedule:
    """Base class: a serialisable function of the training step, evaluated in the step.

    Subclasses implement `__call__(step)` with `keras.ops` (so it runs inside
    the compiled step on a tensor as well as on a Python int) and `get_config`.
    """

    def __call__(self, step):
        raise NotImplementedError

    def get_config(self):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="kvae")
class Warmup(Schedule):
    """Linear ramp from `start` to `end` over `duration` steps, then constant.

        value(t) = start + (end − start) · min(1, t / duration)

    As β, this is the usual KL warm-up against posterior collapse (Bowman et
    al., 2016; Sønderby et al., 2016).

    Args:
        duration: int. Steps to reach `end`, > 0.
        start: float. Value at t = 0, >= 0.
        end: float. Value from t = duration on, >= 0.

    Example:

    >>> import kvae
    >>> warmup = kvae.schedules.Warmup(duration=4)
    >>> [float(warmup(t)) for t in range(6)]
    [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    """

    def __init__(self, duration, start=0.0, end=1.0):
        self.duration = checks.positive_int(duration, "duration")
        self.start = checks.non_negative_float(start, "start")
        self.end = checks.non_negative_float(end, "end")

    def __call__(self, step):
        t = ops.cast(step, "float32")
        fraction = ops.minimum(1.0, t / float(self.duration))
        return ops.cast(self.start + (self.end - self.start) * fraction, "float32")

    def get_config(self):
        return {"duration": self.duration, "start": self.start, "end": self.end}


@keras.saving.register_keras_serializable(package="kvae")
class Cyclical(Schedule):
    """Repeated linear ramps (cyclical KL annealing, Fu et al., 2019).

    Within each cycle of `period` steps the value rises linearly from `low` to
    `high` over the first `ratio` of the cycle and stays at `high` for the rest:

        τ = (t mod period) / period,   value(t) = low + (high − low) · min(1, τ / ratio)

    Args:
        period: int. Steps per cycle, > 0.
        ratio: float. Fraction of the cycle spent rising, in (0, 1].
        low: float. Value at the start of each cycle, >= 0.
        high: float. Value on the plateau, >= 0.

    Example:

    >>> import kvae
    >>> cycles = kvae.schedules.Cyclical(period=4, ratio=0.5)
    >>> [float(cycles(t)) for t in range(8)]
    [0.0, 0.5, 1.0, 1.0, 0.0, 0.5, 1.0, 1.0]
    """

    def __init__(self, period, ratio=0.5, low=0.0, high=1.0):
        self.period = checks.positive_int(period, "period")
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio <= 1:
            raise ValueError(f"`ratio` must be a number in (0, 1], received: {ratio!r}")
        self.ratio = float(ratio)
        self.low = checks.non_negative_float(low, "low")
        self.high = checks.non_negative_float(high, "high")

    def __call__(self, step):
        # The modulo in int64 keeps t exact however long the run.
        t = ops.cast(ops.mod(ops.cast(step, "int64"), self.period), "float32")
        fraction = ops.minimum(1.0, t / float(self.period) / self.ratio)
        return ops.cast(self.low + (self.high - self.low) * fraction, "float32")

    def get_config(self):
        return {"period": self.period, "ratio": self.ratio, "low": self.low, "high": self.high}


def get(identifier, name):
    """A `Schedule` from an instance or its serialized config; None for a plain number."""
    if isinstance(identifier, Schedule):
        return identifier
    if isinstance(identifier, dict):
        schedule = keras.saving.deserialize_keras_object(identifier)
        if isinstance(schedule, Schedule):
            return schedule
        raise ValueError(f"`{name}` must be a number or a kvae.schedules.Schedule, received: {identifier!r}")
    return None
