"""`Unconditional`: the condition of a VAE that takes none (the default)."""

import keras

from kvae.conditions.base import Condition


@keras.saving.register_keras_serializable(package="kvae")
class Unconditional(Condition):
    """No condition: q(z|x) and p(x|z). Values given anyway are an error that says so.

    Example:

    >>> import kvae
    >>> kvae.conditions.Unconditional().convert(None) is None
    True
    """

    conditional = False
    provides = frozenset({"unconditional"})

    @property
    def shape(self):
        return None

    def describe(self):
        return "unconditional"

    def check(self, values, num_examples, argument="condition"):
        self.convert(values, argument)

    def convert(self, values, argument="condition"):
        if values is not None:
            raise ValueError(
                f"`{argument}` is for a conditional VAE (built with num_classes, condition_shape or condition=); "
                "this one is unconditional"
            )
        return None

    def spec(self):
        return None

    def served(self, value, other, other_name):
        return None

    def example(self, num_examples, seed=0):
        return None

    def grid(self, columns, rows=8):
        return None

    def per_example(self, values, num_examples):
        return values

    def expected(self):
        return "nothing"
