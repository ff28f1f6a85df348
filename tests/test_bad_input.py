"""Bad input, one table: every case names its problem, fails (a non-zero exit from the CLI) and
leaves the stored data untouched.

Each row is (what is wrong, call, expected message). A call gets the data directory of a stored
tiny CDI population (and a copy of it with one truncated weights file) and must raise; CLI calls
raise ``CommandFailed`` carrying the exit code and stderr.
"""

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from paperlib.cells import make_cell
from paperlib.config import Hyperparameters, TrainConfig
from paperlib.embedding import cluster_test, mds, silhouette
from paperlib.fixed_points import FixedPointOptions, find_fixed_points, slow_points
from paperlib.linear import oscillation_frequency, oscillatory_mode
from paperlib.profiles import SearchSpace
from paperlib.similarity import cka, pairwise, svcca
from paperlib.store import StoreError, TaskStore, load_population
from paperlib.sweep import train
from paperlib.tasks import ContextIntegration, FlipFlop, SineWave, make_task
from paperlib.train import train_population

ROOT = Path(__file__).resolve().parent.parent
OK = Hyperparameters()
SHORT = TrainConfig(n_iterations=10, steps_per_call=10, batch_size=4)


class CommandFailed(Exception):
    """A CLI run that exited non-zero: ``exit <code>: <stderr>``."""


def run(*command: str, read_only: Path | None = None) -> None:
    """Run a command from the project root; with ``read_only``, inside a mount namespace where
    that directory is a read-only bind mount (a real read-only file system, even for root)."""
    command = list(command)
    if read_only is not None:
        remount = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
        command = ["unshare", "-rm", "sh", "-c", remount, str(read_only), *command]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
    if result.returncode != 0:
        raise CommandFailed(f"exit {result.returncode}: {result.stderr.strip()}")


def cli(*args: str, read_only: Path | None = None) -> None:
    run(sys.executable, "-m", "paperlib", *args, read_only=read_only)


def bistable(h, x):
    return jnp.tanh(2.0 * h) + 0.0 * x[:1]


CASES = [
    # the command line: 2 for bad arguments (before any work), 1 for work that cannot be done
    (
        "unknown task",
        lambda d: cli("train", "--task", "mnist", "--data", str(d["stored"])),
        r"exit 2: .*invalid choice: 'mnist'",
    ),
    (
        "unknown profile",
        lambda d: cli("train", "--profile", "huge", "--data", str(d["stored"])),
        r"exit 2: .*invalid choice: 'huge'",
    ),
    (
        "zero workers",
        lambda d: cli("train", "--workers", "0", "--dask", "local", "--data", str(d["stored"])),
        r"exit 2: .*--workers must be a positive integer",
    ),
    (
        "data directory is a file",
        lambda d: cli("train", "--task", "cdi", "--data", str(d["stored"] / "tiny" / "cdi" / "manifest.csv")),
        r"exit 2: .*is a file, not a directory",
    ),
    (
        "read-only data directory",
        lambda d: cli("train", "--task", "cdi", "--profile", "tiny", "--data", str(d["stored"]), read_only=d["stored"]),
        r"exit 2: .*is not writable",
    ),
    (
        "unknown book profile",
        lambda d: cli("book", "--profile", "medium", "--data", str(d["stored"])),
        r"exit 2: .*invalid choice: 'medium'",
    ),
    (
        "claims with nothing trained",
        lambda d: cli("claims", "--profile", "small", "--data", str(d["stored"])),
        r"exit 1: .*no population at .*train it first",
    ),
    (
        "training over a damaged weights file",
        lambda d: cli("train", "--task", "cdi", "--profile", "tiny", "--data", str(d["damaged"])),
        r"exit 1: .*stored networks are damaged .*\.eqx.*rerun with --repair",
    ),
    (
        "read-only data directory (API)",
        lambda d: run(
            sys.executable,
            "-c",
            f"from paperlib.sweep import train; train(['sine'], 'tiny', {str(d['stored'])!r})",
            read_only=d["stored"],
        ),
        r"StoreError: data directory .* cannot be written: Read-only file system",
    ),
    # the Python API: stored data
    (
        "data directory is a file (API)",
        lambda d: train(["cdi"], "tiny", str(d["stored"] / "tiny" / "cdi" / "manifest.csv")),
        r"cannot be written: Not a directory",
    ),
    ("unknown task (API)", lambda d: train(["mnist"], "tiny", str(d["stored"])), r"task must be one of"),
    ("unknown profile (API)", lambda d: train(["cdi"], "huge", str(d["stored"])), r"profile must be one of"),
    (
        "truncated weights file",
        lambda d: load_population(d["damaged"] / "tiny" / "cdi"),
        r"weights file .*\.eqx does not match its checksum",
    ),
    ("no population there", lambda d: load_population(d["stored"] / "tiny" / "sine"), r"no population at .*sine"),
    # configurations
    (
        "learning rate zero",
        lambda d: Hyperparameters(learning_rate=0.0),
        r"learning_rate must be a finite number in \(0",
    ),
    ("momentum above 1", lambda d: Hyperparameters(momentum=1.5), r"momentum must be .* got 1.5"),
    ("infinite clip", lambda d: Hyperparameters(clip=float("inf")), r"clip must be a finite number"),
    ("negative L2", lambda d: Hyperparameters(l2=-1e-4), r"l2 must be"),
    (
        "negative iteration count",
        lambda d: TrainConfig(n_iterations=-5),
        r"n_iterations must be an integer >= 1, got -5",
    ),
    ("unknown optimiser", lambda d: TrainConfig(optimizer="rmsprop"), r"optimizer must be one of \['sgd', 'adam'\]"),
    ("negative retries", lambda d: TrainConfig(retries=-1), r"retries must be an integer >= 0"),
    (
        "negative divergence patience",
        lambda d: TrainConfig(divergence_patience=-2),
        r"divergence_patience must be an integer >= 0",
    ),
    ("zero search trials", lambda d: SearchSpace(n_trials=0), r"n_trials must be an integer >= 1"),
    ("pulse probability above 1", lambda d: FlipFlop(p_pulse=1.5), r"p_pulse"),
    ("zero time steps", lambda d: FlipFlop(n_time=0), r"n_time"),
    ("negative dt", lambda d: SineWave(dt=-0.01), r"dt"),
    ("frequency above Nyquist", lambda d: SineWave(f_max=80.0), r"Nyquist"),
    ("NaN noise level", lambda d: ContextIntegration(noise_std=float("nan")), r"noise_std"),
    ("negative fixed-point tolerance", lambda d: FixedPointOptions(tol_q=-1.0), r"tol_q"),
    ("keep_q below tol_q", lambda d: FixedPointOptions(keep_q=1e-20), r"keep_q"),
    # networks and training
    (
        "unknown architecture",
        lambda d: make_cell("transformer", "tanh", 4, 2, jax.random.PRNGKey(0)),
        r"architecture must be one of",
    ),
    (
        "unknown activation",
        lambda d: make_cell("gru", "sigmoid", 4, 2, jax.random.PRNGKey(0)),
        r"activation must be one of",
    ),
    ("negative unit count", lambda d: make_cell("gru", "tanh", -3, 2, jax.random.PRNGKey(0)), r"n_units"),
    ("fractional input count", lambda d: make_cell("gru", "tanh", 4, 2.5, jax.random.PRNGKey(0)), r"n_inputs"),
    ("unknown task name", lambda d: make_task("mnist"), r"task must be one of"),
    ("empty batch", lambda d: FlipFlop().sample(jax.random.PRNGKey(0), 0), r"batch"),
    (
        "no seeds",
        lambda d: train_population(FlipFlop(), "gru", "tanh", 8, [], OK, SHORT),
        r"seeds must hold at least one seed",
    ),
    (
        "negative seed",
        lambda d: train_population(FlipFlop(), "gru", "tanh", 8, [-1], OK, SHORT),
        r"seeds must be integers",
    ),
    (
        "one setting for two seeds",
        lambda d: train_population(FlipFlop(), "gru", "tanh", 8, [0, 1], [OK], SHORT),
        r"hyperparameters must be one Hyperparameters or one per seed \(2\)",
    ),
    # analyses
    (
        "mismatched sample counts",
        lambda d: svcca(np.ones((10, 3)), np.ones((9, 3))),
        r"same number of samples.*10 and 9",
    ),
    ("NaN activity", lambda d: cka(np.full((10, 3), np.nan), np.ones((10, 3))), r"X contains NaN"),
    ("empty arrays", lambda d: svcca(np.zeros((0, 3)), np.zeros((0, 3))), r"at least 2 samples"),
    ("a vector, not a matrix", lambda d: cka(np.ones(10), np.ones(10)), r"samples × features\) matrix"),
    ("unknown kernel", lambda d: cka(np.eye(5), np.eye(5), kernel="poly"), r"kernel must be one of"),
    ("variance above 1", lambda d: svcca(np.eye(5), np.eye(5), variance=1.5), r"variance must be in \(0, 1\]"),
    ("constant activity", lambda d: svcca(np.ones((6, 2)), np.eye(6)), r"constant"),
    ("one representation", lambda d: pairwise([np.eye(5)], "svcca"), r"at least 2 representations"),
    (
        "representations of different lengths",
        lambda d: pairwise([np.eye(5), np.eye(4)], "cka"),
        r"same number of samples",
    ),
    ("unknown metric", lambda d: pairwise([np.eye(5), np.eye(5)], "rsa"), r"metric must be one of"),
    ("NaN initial states", lambda d: find_fixed_points(bistable, jnp.zeros(3), np.full((4, 3), np.nan)), r"NaN"),
    ("initial states of the wrong rank", lambda d: find_fixed_points(bistable, jnp.zeros(3), np.zeros(3)), r"n_states"),
    (
        "step that changes the state size",
        lambda d: find_fixed_points(lambda h, x: h[:2], jnp.zeros(3), np.zeros((4, 3))),
        r"same shape",
    ),
    ("zero time step", lambda d: oscillation_frequency([1j], 0.0), r"dt"),
    ("asymmetric distances", lambda d: mds(np.triu(np.ones((4, 4)), 1), method="classical"), r"symmetric"),
    ("one label short", lambda d: silhouette(np.zeros((4, 4)), ["a", "b", "a"]), r"one label per row"),
    (
        "zero permutations",
        lambda d: cluster_test(1 - np.eye(4), ["a", "a", "b", "b"], n_permutations=0),
        r"n_permutations",
    ),
    ("a single label", lambda d: cluster_test(1 - np.eye(4), ["a"] * 4), r"two distinct"),
    (
        "negative trial length for slow points",
        lambda d: slow_points(bistable, jnp.zeros(3), np.ones((4, 3)), trial_steps=-5, state_scale=1.0),
        r"trial_steps",
    ),
    (
        "zero state scale",
        lambda d: slow_points(bistable, jnp.zeros(3), np.ones((4, 3)), trial_steps=10, state_scale=0.0),
        r"state_scale",
    ),
    (
        "trajectory of the wrong width",
        lambda d: oscillatory_mode(np.array([1j, -1j]), np.eye(2), np.ones((5, 3)), 0.01),
        r"trajectory",
    ),
    ("negative second-round seeds", lambda d: FixedPointOptions(n_between=-1), r"n_between"),
]


def tree_digest(path: Path) -> dict[str, str]:
    """Checksums of every stored file (the training lock's holder note aside)."""
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A stored tiny CDI population, and a copy of it with one truncated weights file."""
    stored = tmp_path_factory.mktemp("stored")
    train(["cdi"], "tiny", str(stored), progress=False)
    damaged = tmp_path_factory.mktemp("damaged")
    shutil.copytree(stored, damaged, dirs_exist_ok=True)
    store = TaskStore(damaged, "tiny", "cdi")
    victim = store.weights_path(store.rows()[3])
    victim.write_bytes(victim.read_bytes()[:50])
    return {"stored": stored, "damaged": damaged}


@pytest.mark.parametrize("problem, call, message", CASES, ids=[name for name, _, _ in CASES])
def test_bad_input_is_named_and_changes_nothing(data, problem, call, message):
    before = {k: tree_digest(v) for k, v in data.items()}
    with pytest.raises((ValueError, StoreError, CommandFailed), match="(?s)" + message):
        call(data)
    assert {k: tree_digest(v) for k, v in data.items()} == before, f"{problem}: stored data changed"
