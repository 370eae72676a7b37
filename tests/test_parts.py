"""Every registered part, and every combination of them, through `kvae.testing`: enumerated, not listed."""

import sys

import pytest

import kvae
from distributed import SCRIPTS, run

PARTS = kvae.testing.registered_parts()
COMBINATIONS = kvae.testing.combinations()


def _companions(spec):
    # Standardised inputs leave [0, 1]: a preprocessing is tested with a Gaussian likelihood.
    return [kvae.likelihoods.get("gaussian")] if spec.role == "preprocessing" else []


@pytest.mark.parametrize("spec", PARTS, ids=[spec.id for spec in PARTS])
def test_every_registered_part_trains_and_round_trips(spec):
    kvae.testing.run_part_test(spec.make(), checks=("serialization", "fit"), companions=_companions(spec))


@pytest.mark.slow
@pytest.mark.parametrize("spec", PARTS, ids=[spec.id for spec in PARTS])
def test_every_registered_part_passes_the_whole_harness(spec, tmp_path):
    # Parts of the combined roles train under XLA in every combination below; the others here.
    jit = () if spec.role in kvae.testing.COMBINED_ROLES else ("jit",)
    kvae.testing.run_part_test(spec.make(), checks=("saving", "export", "mixed_precision") + jit,
                               folder=str(tmp_path), companions=_companions(spec))


def replicas_in_a_process_of_their_own(names, log):
    """`run_replica_test` for every part named (tests/scripts/harness_replicas.py), in one fresh process."""
    code, output = run([sys.executable, str(SCRIPTS / "harness_replicas.py"), *names], log, timeout=900)
    assert code == 0 and output.strip().endswith("ok"), output[-5000:]
    return output


@pytest.mark.slow
def test_every_registered_part_takes_the_same_steps_on_two_replicas_as_on_one_device(tmp_path):
    out = replicas_in_a_process_of_their_own([spec.id for spec in PARTS], tmp_path / "replicas.log")
    assert out.count("the same steps on 2 replicas") == len(PARTS)


def _build(combination):
    parts = [spec.make() for spec in combination.values()]
    return lambda dtype=None: kvae.testing.small_vae(parts, dtype=dtype)


@pytest.mark.slow
@pytest.mark.parametrize("combination", COMBINATIONS,
                         ids=["-".join(spec.id.split("=", 1)[1] for spec in c.values()) for c in COMBINATIONS])
def test_every_combination_trains_under_xla_or_is_refused_at_construction(combination):
    build = _build(combination)
    try:
        model = build()
    except ValueError as error:
        # Refused by a part's declared requirement (kvae.protocol), with a message naming it.
        assert " needs " in str(error) and ", received " in str(error), error
        return
    assert model.built
    kvae.testing.run_fit_test(build, kvae.testing.data(), jit_compile=True, epochs=1)


def test_the_combinations_cover_every_registered_part_and_pair():
    counts = [len(kvae.testing.registered_parts(role)) for role in ("prior", "posterior", "objective")]
    assert counts == [4, 4, 3]
    assert len(COMBINATIONS) == 4 * 4 * 3  # priors × posteriors × objective variants, each with a likelihood
    seen = {spec for c in COMBINATIONS for spec in c.values()}
    assert seen == {spec for spec in PARTS if spec.role in kvae.testing.COMBINED_ROLES}
    pairs = {(c["likelihood"], c[role]) for c in COMBINATIONS for role in ("prior", "posterior", "objective")}
    others = [spec for spec in PARTS if spec.role in ("prior", "posterior", "objective")]
    likelihoods = [spec for spec in PARTS if spec.role == "likelihood"]
    assert len(pairs) == len(likelihoods) * len(others)  # every likelihood meets every other part
    dreg = [c for c in COMBINATIONS if dict(c["objective"].kwargs).get("gradient") == "dreg"]
    # The IAF's and the ladder's densities need their networks: no VampPrior, no DReG.
    no_density = [c for c in COMBINATIONS if c["posterior"].name in ("iaf", "ladder") and
                  (c["prior"].name == "vamp" or c in dreg)]
    # The ladder is made with the top-down prior's conditionals.
    no_hierarchy = [c for c in COMBINATIONS if c["posterior"].name == "ladder" and c["prior"].name != "top_down"]
    refused = no_density + [c for c in no_hierarchy if c not in no_density]
    assert len(no_density) == 12 and len(refused) == 16
