"""Every registered part, and every combination of them, through `kvae.testing`: enumerated, not listed."""

import pytest

import kvae

PARTS = kvae.testing.registered_parts()
COMBINATIONS = kvae.testing.combinations()


@pytest.mark.parametrize("spec", PARTS, ids=[spec.id for spec in PARTS])
def test_every_registered_part_trains_under_xla_and_round_trips(spec):
    kvae.testing.run_part_test(spec.make(), checks=("serialization", "jit"))


@pytest.mark.slow
@pytest.mark.parametrize("spec", PARTS, ids=[spec.id for spec in PARTS])
def test_every_registered_part_passes_the_whole_harness(spec, tmp_path):
    kvae.testing.run_part_test(spec.make(), checks=("fit", "saving", "export", "replicas", "mixed_precision"),
                               folder=str(tmp_path))


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


def test_the_combinations_cover_every_registered_part():
    assert len(COMBINATIONS) == 3 * 3 * 3 * 3  # priors × posteriors × objective variants × likelihoods
    seen = {spec for c in COMBINATIONS for spec in c.values()}
    assert seen == set(PARTS)
