"""`kvae.testing.run_replica_test` for many parts in one process of its own, with 2 logical CPUs.

Splitting the CPU is process-wide and a second MirroredStrategy in a process collides with the
first's collectives, so the suite runs the replica check here, once, for every part it names:
`python harness_replicas.py ID ...` with `kvae.testing.PartSpec.id`s, or `custom:ClassName` for a
part of tests/test_custom_parts.py. Prints "ok" or raises.
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/, for the custom parts

import kvae  # noqa: E402

kvae.testing.configure_logical_cpus(2)

specs = {spec.id: spec for spec in kvae.testing.registered_parts()}
for name in sys.argv[1:]:
    if name.startswith("custom:"):
        import test_custom_parts

        part = getattr(test_custom_parts, name.split(":", 1)[1])()
    else:
        part = specs[name].make()
    companions = [kvae.likelihoods.get("gaussian")] if part.role == "preprocessing" else []
    kvae.testing.run_part_test(part, checks=("replicas",), companions=companions)
    print(f"{name}: the same steps on 2 replicas", flush=True)
print("ok")
