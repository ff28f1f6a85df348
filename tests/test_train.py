"""The population trainer: isolation of members, learning, devices, configuration errors."""

import dataclasses

import equinox as eqx
import jax
import numpy as np
import pytest

from paperlib.tasks import ContextIntegration, FlipFlop
from paperlib.training.config import Hyperparameters, TrainConfig
from paperlib.training.objective import errors
from paperlib.training.train import train_population

GOOD = Hyperparameters(learning_rate=0.05, decay_rate=0.5, momentum=0.9, clip=1.0, l2=1e-4)
BAD = Hyperparameters(learning_rate=1e6, decay_rate=1.0, momentum=0.99, clip=1e6, l2=0.0)
TINY = TrainConfig(n_iterations=30, steps_per_call=10, batch_size=8)


def leaves_equal(a, b):
    return all(np.array_equal(x, y) for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


def test_a_diverging_member_is_flagged_and_the_others_are_untouched():
    task = FlipFlop(n_time=20)
    pop = train_population(task, "gru", "tanh", 8, [0, 1, 2], [GOOD, BAD, GOOD], TINY, progress=False)
    assert pop.diverged.tolist() == [False, True, False]
    assert 0 <= pop.diverged_at[1] < TINY.n_iterations
    assert pop.failures[0] == pop.failures[2] == "" and pop.failures[1] in ("nan", "nonfinite-weights", "explosion")
    assert np.isnan(pop.final_loss[1]) and np.isfinite(pop.final_loss[[0, 2]]).all()
    assert np.isnan(pop.losses[1, pop.diverged_at[1] + 1 :]).all()
    # the flagged member keeps its last finite parameters rather than NaNs
    assert all(np.isfinite(leaf).all() for leaf in jax.tree_util.tree_leaves(pop.member(1)))
    for i in (0, 2):
        alone = train_population(task, "gru", "tanh", 8, [i], GOOD, TINY, progress=False)
        assert leaves_equal(alone.member(0), pop.member(i))
        np.testing.assert_array_equal(alone.losses[0], pop.losses[i])


def test_the_reason_for_stopping_a_member_is_recorded():
    task = FlipFlop(n_time=20)
    fresh = train_population(task, "gru", "tanh", 8, [0, 1], GOOD, TINY, progress=False)
    # a member whose readout holds a NaN: its very first loss is NaN
    poisoned = eqx.tree_at(lambda m: m.W_out, fresh.models, fresh.models.W_out.at[1, 0, 0].set(np.nan))
    pop = train_population(task, "gru", "tanh", 8, [0, 1], GOOD, TINY, initial=poisoned, progress=False)
    assert pop.failures == ("", "nan") and pop.diverged_at.tolist() == [-1, 0]
    # a loss above the divergence threshold is an explosion, recorded at the iteration it happened
    strict = dataclasses.replace(TINY, divergence_loss=0.2)
    pop = train_population(task, "gru", "tanh", 8, [0], GOOD, strict, progress=False)
    first = int(np.argmax(~(fresh.losses[0] < 0.2)))
    assert pop.failures == ("explosion",) and pop.diverged_at.tolist() == [first]


def test_divergence_patience_trains_through_spikes_shorter_than_it():
    task = FlipFlop(n_time=20)
    fresh = train_population(task, "gru", "tanh", 8, [0], GOOD, TINY, progress=False)
    losses = fresh.losses[0]
    threshold = float(np.median(losses))  # the loss crosses it back and forth

    def expected(patience):  # first iteration ending a run above the threshold longer than the patience
        run = 0
        for t, value in enumerate(losses):
            run = 0 if value < threshold else run + 1
            if run > patience:
                return t
        return -1

    outcomes = set()
    for patience in (0, 1, 2, 3, 5, 30):
        config = dataclasses.replace(TINY, divergence_loss=threshold, divergence_patience=patience)
        pop = train_population(task, "gru", "tanh", 8, [0], GOOD, config, progress=False)
        t = expected(patience)
        outcomes.add(t)
        assert pop.diverged_at.tolist() == [t], patience
        if t < 0:  # never stopped: exactly the unconstrained run
            assert pop.failures == ("",) and leaves_equal(pop.models, fresh.models)
        else:
            assert pop.failures == ("explosion",)
            np.testing.assert_array_equal(pop.losses[0, : t + 1], losses[: t + 1])
    assert len(outcomes) >= 3 and -1 in outcomes  # the patience made a difference, up to no stop at all


def test_retries_roll_a_diverging_member_back_at_half_the_rate_and_touch_no_other():
    task = FlipFlop(n_time=20)
    hot = Hyperparameters(learning_rate=50.0, decay_rate=1.0, momentum=0.9, clip=100.0, l2=1e-4)
    base = TrainConfig(n_iterations=150, steps_per_call=5, batch_size=8)
    plain = train_population(task, "gru", "tanh", 8, [0, 1, 2], [GOOD, hot, GOOD], base, progress=False)
    assert plain.failures[1] != "" and plain.retries.tolist() == [0, 0, 0]
    rescued = train_population(
        task, "gru", "tanh", 8, [0, 1, 2], [GOOD, hot, GOOD], dataclasses.replace(base, retries=15), progress=False
    )
    k = int(rescued.retries[1])
    assert rescued.retries.tolist() == [0, k, 0] and 1 <= k <= 15
    assert rescued.failures == ("", "", "") and np.isfinite(rescued.final_loss).all()
    for i in (0, 2):  # members that never diverged are exactly those of the plain run
        assert leaves_equal(plain.member(i), rescued.member(i))
    # retries run out: flagged as before, after exactly that many roll-backs
    capped = train_population(
        task, "gru", "tanh", 8, [0, 1], [GOOD, BAD], dataclasses.replace(base, retries=2), progress=False
    )
    assert capped.retries.tolist() == [0, 2] and capped.failures[1] != ""


def test_tiny_population_learns_cdi():
    config = TrainConfig(n_iterations=150, steps_per_call=50, batch_size=32)
    hp = Hyperparameters(learning_rate=0.05, decay_rate=0.5, momentum=0.9, clip=2.0, l2=1e-5)
    task = ContextIntegration()
    pop = train_population(task, "vanilla", "tanh", 16, [0, 1, 2, 3], hp, config, progress=False)
    first = pop.losses[:, :10].mean(axis=1)
    assert (pop.final_loss < 0.5 * first).all(), (first, pop.final_loss)
    mse, normalised = errors(pop.models, task, jax.random.PRNGKey(9), batch=64)
    assert mse.shape == (4,) and (normalised < 0.5).all()


def test_one_and_two_devices_give_the_same_networks():
    devices = jax.local_devices()
    assert len(devices) >= 2, "paperlib should create one host device per core"
    task = FlipFlop(n_time=20)
    one = train_population(task, "lstm", "relu", 8, [5, 6, 7], GOOD, TINY, devices=devices[:1], progress=False)
    two = train_population(task, "lstm", "relu", 8, [5, 6, 7], GOOD, TINY, devices=devices[:2], progress=False)
    assert leaves_equal(one.models, two.models)


def test_a_population_smaller_than_the_devices_trains_no_padding_copy(monkeypatch):
    from paperlib.training import train as train_module

    used, program = [], train_module._chunk_program
    monkeypatch.setattr(train_module, "_chunk_program", lambda devices: used.append(devices) or program(devices))
    devices = tuple(jax.local_devices()[:2])
    task = FlipFlop(n_time=20)
    alone = train_population(task, "gru", "tanh", 8, [3], GOOD, TINY, devices=devices, progress=False)
    assert used == [devices[:1]]  # one member: one device, not a copy of it on the other
    pair = train_population(task, "gru", "tanh", 8, [3, 4], GOOD, TINY, devices=devices, progress=False)
    assert used[1] == devices and leaves_equal(alone.member(0), pair.member(0))


def test_adam_and_step_count_not_divisible_by_chunk():
    config = TrainConfig(n_iterations=25, steps_per_call=10, batch_size=8, optimizer="adam")
    hp = Hyperparameters(learning_rate=3e-3, decay_rate=0.5, momentum=0.0, clip=1.0)
    pop = train_population(FlipFlop(n_time=20), "ugrnn", "tanh", 8, [0, 1], hp, config, progress=False)
    assert pop.losses.shape == (2, 25) and np.isfinite(pop.losses).all()


def _lowered_dots(matmul: str) -> list[str]:
    """The dot products of the compiled training chunk, as StableHLO lines."""
    import functools

    from paperlib.training.objective import HyperArrays, MemberState, make_optimizer
    from paperlib.training.train import _chunk, init_population

    task, config = FlipFlop(n_time=5), dataclasses.replace(TINY, matmul=matmul)
    models, keys = init_population(task, "gru", "tanh", 4, [0])
    params, static = eqx.partition(models, eqx.is_array)
    hps = HyperArrays.stack([GOOD], 10)
    opt = jax.vmap(lambda p, h: make_optimizer(h, "sgd").init(p))(params, hps)
    states = MemberState.fresh(params, opt, (1,))
    chunk = functools.partial(_chunk, static, task, config.step, 2, False)
    text = jax.jit(chunk).lower(states, hps, keys, jax.numpy.int32(0)).as_text()
    return [line for line in text.splitlines() if "dot_general" in line]


def test_training_products_are_float32_unless_asked_otherwise():
    # JAX's default precision lets GPUs compute float32 products in TF32: training asks for float32
    dots = _lowered_dots("float32")
    assert dots and all("precision = [HIGHEST, HIGHEST]" in line for line in dots)
    bf16 = _lowered_dots("bfloat16")
    assert len(bf16) == len(dots) and all("lhs_precision_type = bf16" in line for line in bf16)


def test_tensorfloat32_is_refused_off_gpus_and_unknown_precisions_are_named():
    with pytest.raises(ValueError, match="matmul"):
        TrainConfig(matmul="float16")
    config = dataclasses.replace(TINY, matmul="tensorfloat32")
    with pytest.raises(ValueError, match="tensorfloat32.*NVIDIA GPU"):
        train_population(FlipFlop(n_time=5), "gru", "tanh", 4, [0], GOOD, config, progress=False)


def test_unrolling_the_time_loop_trains_the_same_networks():
    task = FlipFlop(n_time=20)
    plain = train_population(task, "gru", "tanh", 8, [0, 1], GOOD, TINY, progress=False)
    unrolled = train_population(
        task, "gru", "tanh", 8, [0, 1], GOOD, dataclasses.replace(TINY, unroll=5), progress=False
    )
    np.testing.assert_allclose(unrolled.losses, plain.losses, rtol=1e-5)
    for a, b in zip(jax.tree_util.tree_leaves(unrolled.models), jax.tree_util.tree_leaves(plain.models)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="unroll"):
        TrainConfig(unroll=0)


def test_a_population_stopped_midway_continues_from_its_checkpoint_bit_for_bit(tmp_path, monkeypatch):
    """Stopped after two compiled calls (a KeyboardInterrupt, as a stop gives), the rerun does only
    the calls left and ends with the weights, losses and roll-backs of a run never stopped; a
    checkpoint of another population, or a damaged one, is ignored and the population trained afresh."""
    import paperlib.training.train as train_module

    task = FlipFlop(n_time=20)
    config = dataclasses.replace(TINY, n_iterations=40, retries=1)
    hps = [GOOD, dataclasses.replace(BAD, l2=1e-4)]  # the second member rolls back: its state is saved too
    whole = train_population(task, "gru", "tanh", 8, [0, 1], hps, config, progress=False)
    real, calls = train_module._chunk_program, []

    def stopping_after(n):
        def make(devices):
            program = real(devices)

            def run(*args):
                if len(calls) == n:
                    raise KeyboardInterrupt
                calls.append(int(args[-1]))  # the iteration each call starts at
                return program(*args)

            return run

        return make

    path = tmp_path / "pop.npz"
    monkeypatch.setattr(train_module, "_chunk_program", stopping_after(2))
    with pytest.raises(KeyboardInterrupt):
        train_population(
            task, "gru", "tanh", 8, [0, 1], hps, config, progress=False, checkpoint=path, checkpoint_every=0
        )
    assert calls == [0, 10] and path.is_file()
    calls.clear()
    monkeypatch.setattr(train_module, "_chunk_program", stopping_after(99))
    resumed = train_population(task, "gru", "tanh", 8, [0, 1], hps, config, progress=False, checkpoint=path)
    assert calls == [20, 30], "only the calls left are run"
    assert leaves_equal(resumed.models, whole.models)
    np.testing.assert_array_equal(resumed.losses, whole.losses)
    assert resumed.retries.tolist() == whole.retries.tolist() and whole.retries[1] >= 1
    assert resumed.seconds > 0
    # finished: a rerun trains nothing and gives the same population
    calls.clear()
    again = train_population(task, "gru", "tanh", 8, [0, 1], hps, config, progress=False, checkpoint=path)
    assert calls == [] and leaves_equal(again.models, whole.models)
    # another population's checkpoint (other seeds) is not continued
    other = train_population(task, "gru", "tanh", 8, [2, 3], hps, config, progress=False, checkpoint=path)
    assert len(calls) == 4
    alone = train_population(task, "gru", "tanh", 8, [2, 3], hps, config, progress=False)
    assert leaves_equal(other.models, alone.models)
    path.write_bytes(path.read_bytes()[:200])  # damaged
    calls.clear()
    fresh = train_population(task, "gru", "tanh", 8, [2, 3], hps, config, progress=False, checkpoint=path)
    assert len(calls) == 4 and leaves_equal(fresh.models, alone.models)
