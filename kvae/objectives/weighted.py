"""`Weighted`: the base of objectives with scheduled weights (the KL weight β, the free-bits floor λ)."""

import math

import keras
import numpy as np
import tensorflow as tf

from kvae import schedules as schedules_lib
from kvae.objectives.base import Objective

# Each weight's check of a constant value, and what the error says it must be.
_CHECKS = {
    "beta": (lambda v: v >= 0, "a float >= 0"),
    "free_bits": (lambda v: 0 <= v < math.inf, "a finite float >= 0 (nats per latent dimension)"),
}


@keras.saving.register_keras_serializable(package="kvae")
class Weighted(Objective):
    """Base class: an objective whose weights are constants or schedules, held in `keras.Variable`s.

    A subclass calls `add_scheduled_weights` in its constructor with the
    value of each of its weights. Each weight `name` then has a non-trainable variable
    (`objective.<name>`, read by the compiled step, `.assign()`-able by
    callbacks), the schedule given (`<name>_schedule`, evaluated in the step
    from `optimizer.iterations` by `update`), and a place in the config. The
    objective's own schedule may be replaced for one `fit` by kvae's per-step
    callbacks (`set_fit_schedule`); its config is left unchanged.
    """

    def add_scheduled_weights(self, **values):
        """Creates each weight's variable and schedule from a float or a `kvae.schedules.Schedule`."""
        self.scheduled = tuple(values)  # the weights' names
        self._fit_schedules = {}  # installed for one `fit` by kvae's per-step callbacks
        for name, value in values.items():
            schedule = schedules_lib.get(value, name)
            check, expected = _CHECKS[name]
            if schedule is None and not (
                isinstance(value, (int, float, np.floating)) and not isinstance(value, bool) and check(value)
            ):
                raise ValueError(f"`{name}` must be {expected} or a kvae.schedules.Schedule, received: {value!r}")
            setattr(self, f"{name}_schedule", schedule)
            # The step assigns scheduled values; every replica computes the same one.
            setattr(self, name, keras.Variable(
                float(schedule(0)) if schedule is not None else float(value), trainable=False, dtype="float32",
                name=name, aggregation="only_first_replica",
            ))

    def update(self, step):
        """Assigns the scheduled weights from the optimizer's `step`; returns them to be logged."""
        scheduled = {}
        for name in self.scheduled:
            schedule = self.schedule(name)
            if schedule is not None:
                variable = getattr(self, name)
                variable.assign(tf.cast(schedule(step), variable.dtype))
                scheduled[name] = variable
        return scheduled

    def schedule(self, name):
        """The schedule of `name` in effect: a callback's for this `fit`, else the objective's own (None: constant)."""
        return self._fit_schedules.get(name, getattr(self, f"{name}_schedule"))

    def set_fit_schedule(self, name, schedule):
        """Installs (or with None removes) a schedule of `name` for the current `fit`.

        kvae's per-step callbacks use this so that their schedule is evaluated
        inside the compiled step; the objective's config is left unchanged.
        Returns whether the train function must be traced again.
        """
        if name not in self.scheduled:
            raise ValueError(
                f"the {type(self).__name__} objective schedules {list(self.scheduled)}, received: {name!r}"
            )
        before = self.schedule(name)
        if schedule is None:
            self._fit_schedules.pop(name, None)
        else:
            self._fit_schedules[name] = schedule
        return self.schedule(name) is not before

    def describe_weight(self, name):
        """The weight's constant value (4 significant digits) or its schedule's class name."""
        schedule = getattr(self, f"{name}_schedule")
        if schedule is not None:
            return type(schedule).__name__
        return f"{float(keras.ops.convert_to_numpy(getattr(self, name))):.4g}"

    def get_config(self):
        config = super().get_config()
        for name in self.scheduled:
            schedule = getattr(self, f"{name}_schedule")
            config[name] = (keras.saving.serialize_keras_object(schedule) if schedule is not None
                            else float(keras.ops.convert_to_numpy(getattr(self, name))))
        return config
