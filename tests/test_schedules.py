"""kvae.schedules: closed forms, config round trips, and evaluation inside the compiled step."""

import keras
import numpy as np
import pytest

import kvae
from conftest import run_serialization_test, tiny_vae, uniform_data


def test_schedules_match_their_closed_forms():
    t = np.arange(0, 50)
    warmup = kvae.schedules.Warmup(duration=7, start=0.2, end=0.9)
    expected = 0.2 + 0.7 * np.minimum(1, t / 7)
    np.testing.assert_allclose([float(warmup(s)) for s in t], expected, rtol=1e-6)
    cycles = kvae.schedules.Cyclical(period=6, ratio=0.25, low=0.1, high=0.5)
    expected = 0.1 + 0.4 * np.minimum(1, (t % 6) / 6 / 0.25)
    np.testing.assert_allclose([float(cycles(s)) for s in t], expected, rtol=1e-6)
    assert float(cycles(6 * 10**9 + 3)) == pytest.approx(0.5)  # exact modulo on huge step counts


@pytest.mark.parametrize("schedule", [kvae.schedules.Warmup(5, end=2.0), kvae.schedules.Cyclical(4, 0.5, 0.1)])
def test_schedule_config_round_trip(schedule):
    revived = run_serialization_test(schedule)
    assert [float(revived(t)) for t in range(9)] == [float(schedule(t)) for t in range(9)]


@pytest.mark.slow
def test_per_step_warmup_runs_in_the_step_and_matches_a_per_batch_schedule():
    """KLWarmup keeps "auto"'s many steps per call and takes exactly the per-batch callback's steps."""
    x = uniform_data(64)

    def train(callback):
        keras.utils.set_random_seed(0)
        model = tiny_vae()
        history = model.fit(kvae.data.make_dataset(x, 4, shuffle=True, seed=0), epochs=2, verbose=0,
                            callbacks=[callback])
        return model, history.history

    in_step, h_in_step = train(kvae.callbacks.KLWarmup(duration=20))
    # The same ramp as an opaque Python function: set before every batch, one step per call.
    per_batch, h_per_batch = train(kvae.callbacks.VariableSchedule(lambda t: np.float32(min(1.0, t / 20))))
    assert (in_step.steps_per_execution, per_batch.steps_per_execution) == (32, 1)
    assert h_in_step["beta"] == pytest.approx([15 / 20, 1.0]) and h_per_batch["beta"] == pytest.approx([15 / 20, 1.0])
    for a, b in zip(in_step.get_weights(), per_batch.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    # After fit the model is as before: its config holds a number, and β the last step's value.
    assert in_step.objective.get_config()["beta"] == 1.0 and in_step.objective.beta_schedule is None


@pytest.mark.slow
def test_model_schedule_is_saved_and_a_reloaded_model_continues_it_exactly(tmp_path):
    x = uniform_data(32)
    data = kvae.data.make_dataset(x, 8, shuffle=True, seed=0, start_epoch=0)

    def fresh():
        keras.utils.set_random_seed(0)
        return tiny_vae(beta=kvae.schedules.Warmup(duration=6), free_bits=kvae.schedules.Cyclical(4, low=0.5, high=0.0))

    whole = fresh()
    history = whole.fit(data, epochs=2, steps_per_epoch=4, verbose=0).history
    assert history["beta"] == pytest.approx([3 / 6, 1.0]) and history["free_bits"] == pytest.approx([0.0, 0.0])
    assert whole.steps_per_execution == 4  # the schedule costs no per-batch callback

    first = fresh()
    first.fit(data, epochs=1, steps_per_epoch=4, verbose=0)
    first.save(tmp_path / "half.keras")
    resumed = keras.saving.load_model(tmp_path / "half.keras")
    assert isinstance(resumed.objective.beta_schedule, kvae.schedules.Warmup) and resumed.objective.beta_schedule.duration == 6
    resumed.fit(kvae.data.make_dataset(x, 8, shuffle=True, seed=0, start_epoch=1), epochs=2, initial_epoch=1,
                steps_per_epoch=4, verbose=0)
    for a, b in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_scheduled_beta_weights_the_kl_of_each_step():
    """The loss of a step is reconstruction + β(t)·KL with β(t) from the optimizer's counter."""
    keras.utils.set_random_seed(0)
    model = tiny_vae(beta=kvae.schedules.Warmup(duration=2, start=0.0, end=1.0))
    model.optimizer.iterations.assign(1)  # β(1) = 0.5 in the next step
    logs = model.fit(uniform_data(8), batch_size=8, epochs=1, verbose=0, shuffle=False).history
    assert logs["beta"] == [0.5]
    assert logs["loss"][0] == pytest.approx(logs["reconstruction"][0] + 0.5 * logs["kl"][0], rel=1e-5)


def test_bad_schedules_are_clear_errors():
    with pytest.raises(ValueError, match=r"`duration` must be a positive integer, received: 0"):
        kvae.schedules.Warmup(0)
    with pytest.raises(ValueError, match=r"`high` must be a finite number >= 0, received: -1"):
        kvae.schedules.Cyclical(3, high=-1)
    with pytest.raises(ValueError, match=r"`beta` must be a number or a kvae.schedules.Schedule, received: \{'a': 1\}"):
        tiny_vae(beta={"a": 1})
