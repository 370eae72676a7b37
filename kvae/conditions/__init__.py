"""Conditions of a conditional VAE: registered parts that own a condition from the user's values to the networks.

`"none"` (`Unconditional`, default), `ClassLabel(num_classes)` (class ids,
one-hot inside) or `Vector(shape)` (real values). A condition is converted
once, at the model's boundary (`Condition.convert`); everything past it takes
the tensor. In data a condition is Keras' `y`: `fit(x, y)`, datasets of
`(x, y)` pairs; in the model's methods it is `condition=`; the served
signatures take `label` or `condition`, as `Condition.spec` says.
"""

from kvae import registry
from kvae.conditions.base import Condition
from kvae.conditions.class_label import MAX_CLASSES, ClassLabel, check_class_ids
from kvae.conditions.unconditional import Unconditional
from kvae.conditions.vector import Vector

REGISTRY = registry.Registry("condition", Condition, {
    "none": Unconditional,
    "class_label": ClassLabel,
    "vector": Vector,
}, default="none")
NAMES = REGISTRY.names


def get(identifier=None, num_classes=None, condition_shape=None):
    """The condition part for `identifier` (a name, config or instance), or from the shorthands.

    `num_classes=C` stands for `ClassLabel(C)` and `condition_shape=S` for
    `Vector(S)`, as `kvae.VAE` and `kvae.build_vae` take them; at most one of
    the three may be given.

    Example:

    >>> import kvae
    >>> kvae.conditions.get(num_classes=10).describe()
    'conditional on 10 class labels'
    """
    given = [name for name, value in (("condition", identifier), ("num_classes", num_classes),
                                      ("condition_shape", condition_shape)) if value is not None]
    if len(given) > 1:
        raise ValueError(
            "a conditional VAE takes one of `condition`, `num_classes` (labels) or `condition_shape` (real values), "
            f"received {', '.join(f'`{name}`' for name in given)}"
        )
    if num_classes is not None:
        return ClassLabel(num_classes, name="condition")
    if condition_shape is not None:
        return Vector(condition_shape, name="condition")
    return REGISTRY.get(identifier)


__all__ = ["ClassLabel", "Condition", "MAX_CLASSES", "NAMES", "REGISTRY", "Unconditional", "Vector",
           "check_class_ids", "get"]
