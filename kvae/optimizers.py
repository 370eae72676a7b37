"""`Adam`: Keras' Adam with the update done by TensorFlow's fused kernel."""

import keras
import tensorflow as tf

from kvae import keras_internals


@keras.saving.register_keras_serializable(package="kvae")
class Adam(keras.optimizers.Adam):
    """`keras.optimizers.Adam`, updating each variable with one fused kernel.

    The maths is Keras' Adam, unchanged (Kingma & Ba, 2015):

        m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²,
        θ ← θ − lr · √(1 − β₂ᵗ) / (1 − β₁ᵗ) · m / (√v + ε).

    Keras computes it as about ten separate element-wise operations per
    variable, each a pass over memory; TensorFlow's `ResourceApplyAdam` does the
    same update in one pass (`python -m bench.ablations` measures the gain).
    The results equal Keras' to float rounding (tested to 1e-5), and a run
    killed and resumed ends on the uninterrupted run's weights, under a
    `tf.distribute` strategy too (tested). It is what `VAE.compile()`,
    `compile(optimizer="adam")` and `kvae train` use; a `keras.optimizers.Adam`
    you pass stays Keras' (slower steps, the same maths).

    The kernel runs on every dense float gradient, outside `tf.distribute` and
    inside it (once per replica's copy of each variable, as Keras' own
    assignments run), so one process and many take the same arithmetic:
    Keras' update rounds differently (about 1e-7 a step), and a kernel that
    ran only outside strategies put a multi-worker run 1e-6 from the same run
    in one process after 300 steps. With `amsgrad=True` or a sparse gradient
    Keras' own update runs. Everything else is Keras': learning-rate
    schedules, clipping, weight decay, EMA, loss scaling, serialisation, and
    the slot variables (so a checkpoint of one loads into the other).

    Args: those of `keras.optimizers.Adam`.

    Example:

    >>> import numpy as np, keras, kvae
    >>> vae = kvae.build_vae((8, 8, 1), latent_dim=2, hidden_units=16)
    >>> vae.compile(optimizer=kvae.optimizers.Adam(1e-3))  # or compile(): the default
    >>> x = np.random.default_rng(0).uniform(size=(32, 8, 8, 1)).astype("float32")
    >>> int(vae.fit(x, epochs=1, verbose=0) and vae.optimizer.iterations.numpy())
    1
    """

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        # Under a strategy Keras calls this once per replica's copy of `variable` (inside
        # `extended.update`), where each slot's handle is that replica's copy: the kernel is
        # replica-local, as Keras' own assignments are.
        dtype = variable.dtype
        m, v = keras_internals.adam_slots(self, variable)
        local_step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=keras_internals.resource_handle(variable),
            m=keras_internals.resource_handle(m),
            v=keras_internals.resource_handle(v),
            beta1_power=tf.pow(beta_1, local_step),
            beta2_power=tf.pow(beta_2, local_step),
            lr=tf.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
            use_locking=False,
        )

