"""The `Objective` base class: what `VAE.train_step` minimises, per example."""

import keras

from kvae import protocol


@keras.saving.register_keras_serializable(package="kvae")
class Objective(protocol.Part, keras.layers.Layer):
    """Base class: a per-example training loss of a `VAE`, and the terms its metrics report.

    The `VAE`'s steps call `update(step)` once per train step (scheduled
    weights) and `compute(forward, training)` with the batch's
    `kvae.forward.ForwardPass`, which holds q(z|x), p(z) and the functions of
    z an objective needs; the objective never sees the model. It returns the
    per-example loss and the one-sample ELBO terms the metrics report, so
    `elbo`, `reconstruction` and `kl` mean the same whatever the objective.

    Subclasses implement `compute` and may list `requirements()` on the other
    parts (`kvae.protocol`).
    """

    role = "objective"
    # The KL weight β and free-bits floor λ (keras.Variables) of objectives that have them.
    beta = None
    free_bits = None

    def compute(self, forward, training=False):
        """Returns `(per_example_loss [batch], (reconstruction [batch], kl_per_dim [batch, L'], loc [batch, L]))`.

        `forward` is the batch's `kvae.forward.ForwardPass`.
        """
        raise NotImplementedError

    def update(self, step):
        """Called once per train step with `optimizer.iterations`; returns `{name: variable}` to log."""
        return {}

    def set_fit_schedule(self, name, schedule):
        """Installs a schedule of `name` for one `fit` (kvae's per-step callbacks); objectives without weights refuse."""
        raise ValueError(f"the {type(self).__name__} objective has no `{name}` to schedule")
