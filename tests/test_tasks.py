"""Statistics and semantics of the three tasks (book/methods/tasks.md)."""

import jax
import numpy as np
import pytest

from paperlib.tasks import ContextIntegration, FlipFlop, SineWave, make_task

KEY = jax.random.PRNGKey(0)


def test_flipflop_pulse_rate_and_signs():
    inputs, _ = FlipFlop().sample(KEY, 512)
    inputs = np.asarray(inputs)
    assert inputs.shape == (512, 100, 3)
    assert set(np.unique(inputs)) == {-1.0, 0.0, 1.0}
    # every channel of every trial pulses at t = 0, with a random sign
    assert np.all(np.abs(inputs[:, 0]) == 1.0)
    assert abs(np.mean(inputs[:, 0] > 0) - 0.5) < 0.05  # 1,536 signs: standard error 0.013
    rate = np.mean(inputs[:, 1:] != 0)  # 152,064 later draws: standard error 0.00056
    assert abs(rate - 0.05) < 0.003
    pulses = inputs[inputs != 0]
    assert abs(np.mean(pulses > 0) - 0.5) < 0.03


def test_flipflop_target_is_never_zero():
    for p_pulse in (0.0, 0.05):  # even with no later pulse, the t = 0 pulse defines every output
        inputs, targets = FlipFlop(p_pulse=p_pulse).sample(KEY, 256)
        assert np.all(np.abs(np.asarray(targets)) == 1.0)
    probe = FlipFlop().probe_inputs()
    assert np.all(np.abs(probe[:, 0]) == 1.0) and np.all(np.abs(np.asarray(FlipFlop().target(probe))) == 1.0)


def test_flipflop_target_holds_the_last_pulse():
    inputs, targets = FlipFlop(n_time=60, p_pulse=0.1).sample(KEY, 32)
    inputs, targets = np.asarray(inputs), np.asarray(targets)
    expected = np.zeros_like(inputs)
    for b in range(inputs.shape[0]):
        for k in range(inputs.shape[2]):
            held = None  # defined from t = 0 on, where every channel pulses
            for t in range(inputs.shape[1]):
                if inputs[b, t, k] != 0:
                    held = inputs[b, t, k]
                expected[b, t, k] = held
    np.testing.assert_array_equal(targets, expected)
    assert (targets[:, 0] == inputs[:, 0]).all() and (targets[:, 0] != 0).all()


def test_sine_target_oscillates_at_the_cued_frequency():
    task = SineWave(n_time=2000)  # 20 s: FFT bins 0.05 Hz apart
    inputs, targets = task.sample(KEY, 16)
    inputs, targets = np.asarray(inputs), np.asarray(targets)
    freqs = np.fft.rfftfreq(task.n_time, d=task.dt)
    for cue, y in zip(inputs[:, 0, 0], targets[:, :, 0]):
        peak = freqs[np.argmax(np.abs(np.fft.rfft(y)))]
        assert abs(peak - (1.0 + 4.0 * cue)) <= 0.05
        assert np.max(np.abs(y)) == pytest.approx(1.0, abs=1e-3)
    assert (inputs == inputs[:, :1]).all(), "the cue is static over the trial"


def test_sine_probe_cues_and_static_inputs():
    task = SineWave()
    probe = task.probe_inputs()
    assert probe.shape == (51, 500, 1)
    np.testing.assert_allclose(probe[:, 0, 0], np.linspace(0, 1, 51), atol=1e-7)
    np.testing.assert_array_equal(task.static_inputs()[:, 0], probe[:, 0, 0])
    assert task.static_labels()[0] == "1.00 Hz" and task.static_labels()[-1] == "5.00 Hz"
    discrete = np.asarray(SineWave(train_cues=5).sample(KEY, 200)[0][:, 0, 0])
    assert set(np.round(discrete, 6)) == {0.0, 0.25, 0.5, 0.75, 1.0}


def test_cdi_target_is_the_running_sum_of_the_cued_stream_only():
    task = ContextIntegration()
    inputs, targets = task.sample(KEY, 64)
    inputs, targets = np.asarray(inputs), np.asarray(targets)
    context = inputs[:, 0, :2]
    assert (context.sum(axis=1) == 1).all() and (inputs[:, :, :2] == inputs[:, :1, :2]).all()
    cued = np.where(context[:, :1] == 1, inputs[:, :, 2], inputs[:, :, 3])
    np.testing.assert_allclose(targets[:, :, 0], 0.1 * np.cumsum(cued, axis=1), rtol=1e-5, atol=1e-5)
    # altering the uncued stream leaves the target unchanged
    altered = inputs.copy()
    uncued = np.where(context[:, 0] == 1, 3, 2)
    altered[np.arange(64), :, uncued] += 10.0
    np.testing.assert_allclose(np.asarray(task.target(altered)), targets, rtol=1e-5, atol=1e-5)


def test_cdi_stream_statistics():
    inputs = np.asarray(ContextIntegration(n_time=400).sample(KEY, 256)[0])
    trial_means = inputs[:, :, 2:].mean(axis=1)
    assert np.all(np.abs(trial_means) < 1.0 + 4 / np.sqrt(400))
    residual = inputs[:, :, 2:] - trial_means[:, None, :]
    assert residual.std() == pytest.approx(1.0, abs=0.02)
    assert trial_means.std() == pytest.approx(1 / np.sqrt(3), abs=0.05)  # U(-1, 1)


@pytest.mark.parametrize("name", ["flipflop", "sine", "cdi"])
def test_probe_set_is_fixed_and_static_inputs_hold_conditions(name):
    task = make_task(name)
    np.testing.assert_array_equal(task.probe_inputs(), make_task(name).probe_inputs())
    static = task.static_inputs()
    assert static.shape[1] == task.n_inputs and len(task.static_labels()) == len(static)
    if name == "flipflop":
        assert not static.any()
    if name == "cdi":
        np.testing.assert_array_equal(static[:, :2], np.eye(2))
        assert not static[:, 2:].any()


def test_tasks_follow_the_abstract_final_pattern():
    """``AbstractTask`` cannot be built; each concrete task is a final, frozen dataclass."""
    import dataclasses

    from paperlib.tasks import TASKS, AbstractTask

    with pytest.raises(TypeError, match="abstract"):
        AbstractTask()
    for cls in TASKS.values():
        assert cls.__bases__ == (AbstractTask,) and getattr(cls, "__final__", False), cls.__name__
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen
