"""Every private Keras and TensorFlow name kvae uses, each in one function with its reason.

Checked against Keras 3.15 and TensorFlow 2.21 (the versions `pyproject.toml`
pins); a Keras upgrade reads this module first. Elsewhere kvae uses public
APIs only (tests/test_layering.py checks no other module reaches for one of
these names), save one override: `kvae.execution.KerasExecution` overrides the
trainer's `_maybe_symbolic_build` hook, whose body is
`symbolic_build_from_first_replica`.
"""

import keras

# `Model.evaluate`'s keyword for fit's own validation call, whose data Keras has already made a dataset.
CACHED_EVAL_DATASET = "_use_cached_eval_dataset"


def strategy_built_under(model):
    """The `tf.distribute` strategy the model was built under, or None.

    Keras' trainer keeps it as `_distribute_strategy`; the public
    `distribute_strategy` falls back to the default strategy, so it cannot
    tell a model built under none from one built under the default.
    """
    return getattr(model, "_distribute_strategy", None)


def supports_xla(model):
    """Whether every layer of `model` can run under XLA: the check Keras' `jit_compile` setter makes.

    Keras keeps it as `keras.src.trainers.trainer.model_supports_jit` (each
    layer's `supports_jit`); there is no public name for it.
    """
    from keras.src.trainers.trainer import model_supports_jit

    return model_supports_jit(model)


def in_multi_worker_mode(strategy):
    """Whether a `MultiWorkerMirroredStrategy` spans several workers: the predicate Keras' TF trainer uses."""
    return strategy.extended._in_multi_worker_mode()


def set_initial_epoch(model, epoch):
    """Makes the running `fit` continue at `epoch`, as Keras' own `BackupAndRestore` does (no public route)."""
    model._initial_epoch = epoch


def adam_slots(optimizer, variable):
    """Keras' Adam's first and second moment slots of `variable`: `(m, v)`."""
    index = optimizer._get_variable_index(variable)
    return optimizer._momentums[index], optimizer._velocities[index]


def resource_handle(variable):
    """The TF resource handle behind a Keras variable, for a raw `ResourceApply*` kernel."""
    return (variable.value if isinstance(variable, keras.Variable) else variable).handle


def symbolic_build_from_first_replica(model, iterator, data_batch, first_replica_batch):
    """Keras' peek at the first batch of a `fit` (`Trainer._maybe_symbolic_build`), on one replica's rows.

    Under a strategy Keras reduces the whole distributed batch to build the
    model, which `MultiWorkerMirroredStrategy` cannot do for an `(x, y)` pair;
    `first_replica_batch` takes one replica's part instead. Returns the
    arguments for Keras' own method.
    """
    strategy = strategy_built_under(model)
    if iterator is not None and strategy is not None:
        with strategy.scope():
            for _, _, batches in iterator:
                data_batch = first_replica_batch(next(batches))
                break
        iterator = None
    return iterator, data_batch


# The names above, for the test that no other module uses them.
PRIVATE_NAMES = ("_distribute_strategy", "_use_cached_eval_dataset", "_in_multi_worker_mode", "_initial_epoch",
                 "_get_variable_index", "_momentums", "_velocities", "model_supports_jit")

__all__ = ["CACHED_EVAL_DATASET", "PRIVATE_NAMES", "adam_slots", "in_multi_worker_mode", "resource_handle",
           "set_initial_epoch", "strategy_built_under", "supports_xla", "symbolic_build_from_first_replica"]
