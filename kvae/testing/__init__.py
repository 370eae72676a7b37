"""`kvae.testing`: the harness every part passes, built-in or your own.

    import kvae

    class MyPrior(kvae.priors.Prior): ...

    kvae.testing.run_part_test(MyPrior())   # config, fit, XLA, .keras, export, 2 replicas, bfloat16

The built-in parts and their combinations come from the registries
(`registered_parts`, `combinations`), so kvae's own tests enumerate them and a
new part adds no hand-written cases.
"""

from kvae.testing.catalog import COMBINED_ROLES, PartSpec, REGISTRIES, combinations, companions_for, registered_parts
from kvae.testing.harness import (
    CHECKS,
    clone,
    configure_logical_cpus,
    data,
    run_export_test,
    run_fit_test,
    run_mixed_precision_test,
    run_model_test,
    run_part_test,
    run_replica_test,
    run_saving_test,
    run_serialization_test,
    small_vae,
)

__all__ = [
    "CHECKS", "COMBINED_ROLES", "PartSpec", "REGISTRIES", "clone", "combinations", "companions_for", "configure_logical_cpus",
    "data",
    "registered_parts", "run_export_test", "run_fit_test", "run_mixed_precision_test", "run_model_test",
    "run_part_test", "run_replica_test", "run_saving_test", "run_serialization_test", "small_vae",
]
