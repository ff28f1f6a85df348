"""Crashes, concurrency and determinism: kill -9 at every write, one writer per data directory,
the same command gives the same bytes."""

import dataclasses
import subprocess
import sys
import textwrap

import jax.numpy as jnp
import numpy as np
import pytest

from paperlib.dynamics.fixed_points import find_fixed_points, initial_states
from paperlib.training.store import TaskStore, exclusive, load_population
from paperlib.training.sweep import train


def test_a_second_training_command_is_refused_while_the_first_holds_the_lock(tmp_path, cli):
    with exclusive(tmp_path, "tiny"):
        result = cli("train", "--task", "cdi", "--profile", "tiny", "--data", tmp_path, timeout=120)
    assert result.returncode == 1
    assert "is being written by process" in result.stderr and "one training command per data directory" in result.stderr
    assert not (tmp_path / "tiny" / "cdi").exists(), "the refused command wrote nothing"


def test_the_same_command_twice_gives_identical_weights_and_fixed_points(tmp_path, mini):
    gru = dataclasses.replace(mini, architectures=("gru",))
    for run in ("a", "b"):
        train(["cdi"], gru, str(tmp_path / run), progress=False)
    a, b = (TaskStore(tmp_path / run, "mini", "cdi") for run in ("a", "b"))
    assert [r["sha256"] for r in a.rows()] == [r["sha256"] for r in b.rows()]
    for row in a.rows():
        assert a.weights_path(row).read_bytes() == b.weights_path(row).read_bytes()
    model = load_population(a.path)[0][0]
    starts = initial_states(np.random.default_rng(0).normal(size=(50, model.cell.state_size)), 64)
    first, second = (find_fixed_points(model.step, jnp.array([1.0, 0, 0, 0]), starts) for _ in range(2))
    np.testing.assert_array_equal(first.states, second.states)
    np.testing.assert_array_equal(first.eigenvalues, second.eigenvalues)


# Trains two CDI units (two seeds each) into argv[1]; with argv[2:] = (suffix, n) it kills itself with SIGKILL inside
# the n-th atomic write of a file whose name ends with suffix, after the bytes reached the
# temporary file and before its rename: the moment a crash would leave a partial file behind.
CRASHING_RUN = textwrap.dedent("""
    import dataclasses, os, signal, sys
    from paperlib.training.profiles import PROFILES
    from paperlib.training.sweep import train

    data, *crash = sys.argv[1:]
    if crash:
        suffix, nth, seen, real_fsync = crash[0], int(crash[1]), [0], os.fsync
        def fsync(fd):
            if suffix + "." in os.path.basename(os.readlink(f"/proc/self/fd/{fd}")):
                seen[0] += 1
                if seen[0] == nth:
                    os.kill(os.getpid(), signal.SIGKILL)
            real_fsync(fd)
        os.fsync = fsync
    mini = dataclasses.replace(PROFILES["tiny"], name="mini", architectures=("vanilla", "gru"),
                               activations=("tanh",))
    train(["cdi"], mini, data, progress=False)
""")


def crashing_run(data, *crash):
    return subprocess.run(
        [sys.executable, "-c", CRASHING_RUN, str(data), *map(str, crash)],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run every crashed-and-resumed run must end identical to."""
    data = tmp_path_factory.mktemp("reference")
    assert crashing_run(data).returncode == 0
    store = TaskStore(data, "mini", "cdi")
    return {r["network"]: store.weights_path(r).read_bytes() for r in store.rows()}


@pytest.mark.parametrize("suffix, nth", [(".eqx", 3), ("manifest.csv", 1), ("manifest.csv", 2)])
def test_kill_minus_nine_while_writing_then_rerun_ends_complete(tmp_path, reference, suffix, nth):
    """Killed inside a weights write or a manifest write (first or a later unit), the rerun finishes."""
    crashed = crashing_run(tmp_path, suffix, nth)
    assert crashed.returncode == -9, crashed.stderr
    store = TaskStore(tmp_path, "mini", "cdi")
    assert list(store.path.rglob(".*.tmp")), "the kill left a temporary behind, as a real crash would"
    # what is stored is whole: every manifest row loads and matches its checksum
    rows = store.rows()
    if rows:
        models, _ = load_population(store.path, status=None)
        assert len(models) == len(rows)
    before = {r["network"]: (r["sha256"], store.weights_path(r).stat().st_mtime_ns) for r in rows}

    assert crashing_run(tmp_path).returncode == 0
    after = {r["network"]: (r["sha256"], store.weights_path(r).stat().st_mtime_ns) for r in store.rows()}
    assert all(after[name] == state for name, state in before.items()), "a finished network was rewritten"
    assert not list(store.path.rglob("*.tmp"))
    stored = {r["network"]: store.weights_path(r).read_bytes() for r in store.rows()}
    assert stored == reference, "the resumed population differs from an uninterrupted run"
