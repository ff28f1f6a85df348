"""Concurrency and determinism: one writer per data directory; the same command gives the same bytes."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from paperlib.fixed_points import find_fixed_points, initial_states
from paperlib.profiles import PROFILES
from paperlib.store import TaskStore, exclusive, load_population
from paperlib.sweep import train

ROOT = Path(__file__).resolve().parent.parent
MINI = dataclasses.replace(PROFILES["tiny"], name="mini", architectures=("gru",), activations=("tanh",))


def test_a_second_training_command_is_refused_while_the_first_holds_the_lock(tmp_path):
    with exclusive(tmp_path, "tiny"):
        result = subprocess.run(
            [sys.executable, "-m", "paperlib", "train", "--task", "cdi", "--profile", "tiny", "--data", str(tmp_path)],
            capture_output=True, text=True, cwd=ROOT, timeout=120,
        )
    assert result.returncode == 1
    assert "is being written by process" in result.stderr and "one training command per data directory" in result.stderr
    assert not (tmp_path / "tiny" / "cdi").exists(), "the refused command wrote nothing"


def test_the_same_command_twice_gives_identical_weights_and_fixed_points(tmp_path):
    for run in ("a", "b"):
        train(["cdi"], MINI, str(tmp_path / run), progress=False)
    a, b = (TaskStore(tmp_path / run, "mini", "cdi") for run in ("a", "b"))
    assert [r["sha256"] for r in a.rows()] == [r["sha256"] for r in b.rows()]
    for row in a.rows():
        assert a.weights_path(row).read_bytes() == b.weights_path(row).read_bytes()
    model = load_population(a.path)[0][0]
    starts = initial_states(np.random.default_rng(0).normal(size=(50, model.cell.state_size)), 64)
    first, second = (find_fixed_points(model.step, jnp.array([1.0, 0, 0, 0]), starts) for _ in range(2))
    np.testing.assert_array_equal(first.states, second.states)
    np.testing.assert_array_equal(first.eigenvalues, second.eigenvalues)
