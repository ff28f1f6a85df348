"""Bad input, in two tables: every case names its problem, fails (a non-zero exit from the CLI,
ending in one line and no traceback) and leaves the stored data untouched.

Each row is (what is wrong, call, expected message). ``CONFIGURATION`` calls need nothing; ``DATA``
calls get ``d``: the data directory of a stored tiny CDI population (``d.stored``), a copy with one
truncated weights file (``d.damaged``), and the runners below. CLI calls raise ``CommandFailed``
carrying the exit code and stderr.
"""

import contextlib
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import jax
import jax.numpy as jnp
import nbformat
import numpy as np
import pytest

import paperlib.__main__ as command_line
from paperlib.__main__ import main
from paperlib.dynamics.fixed_points import FixedPointOptions, find_fixed_points, slow_points
from paperlib.dynamics.linear import oscillation_frequency, oscillatory_mode
from paperlib.models.cells import make_cell
from paperlib.publishing.book import NotebookError, execute_notebooks
from paperlib.similarity import cka, cluster_test, mds, pairwise, silhouette, svcca
from paperlib.tasks import ContextIntegration, FlipFlop, SineWave, make_task
from paperlib.training.config import Hyperparameters, TrainConfig
from paperlib.training.profiles import SearchSpace
from paperlib.training.store import StoreError, TaskStore, load_population
from paperlib.training.sweep import train
from paperlib.training.train import train_population

OK = Hyperparameters()
SHORT = TrainConfig(n_iterations=10, steps_per_call=10, batch_size=4)


class CommandFailed(Exception):
    """A CLI run that exited non-zero: ``exit <code>: <stderr>``."""


def bistable(h, x):
    return jnp.tanh(2.0 * h) + 0.0 * x[:1]


CONFIGURATION = [
    # configurations
    (
        "learning rate zero",
        lambda: Hyperparameters(learning_rate=0.0),
        r"learning_rate must be a finite number in \(0",
    ),
    ("momentum above 1", lambda: Hyperparameters(momentum=1.5), r"momentum must be .* got 1.5"),
    ("infinite clip", lambda: Hyperparameters(clip=float("inf")), r"clip must be a finite number"),
    ("negative L2", lambda: Hyperparameters(l2=-1e-4), r"l2 must be"),
    (
        "negative iteration count",
        lambda: TrainConfig(n_iterations=-5),
        r"n_iterations must be an integer >= 1, got -5",
    ),
    ("unknown optimiser", lambda: TrainConfig(optimizer="rmsprop"), r"optimizer must be one of \['sgd', 'adam'\]"),
    ("negative retries", lambda: TrainConfig(retries=-1), r"retries must be an integer >= 0"),
    (
        "negative divergence patience",
        lambda: TrainConfig(divergence_patience=-2),
        r"divergence_patience must be an integer >= 0",
    ),
    ("zero search trials", lambda: SearchSpace(n_trials=0), r"n_trials must be an integer >= 1"),
    ("pulse probability above 1", lambda: FlipFlop(p_pulse=1.5), r"p_pulse"),
    ("zero time steps", lambda: FlipFlop(n_time=0), r"n_time"),
    ("negative dt", lambda: SineWave(dt=-0.01), r"dt"),
    ("frequency above Nyquist", lambda: SineWave(f_max=80.0), r"Nyquist"),
    ("NaN noise level", lambda: ContextIntegration(noise_std=float("nan")), r"noise_std"),
    ("negative fixed-point tolerance", lambda: FixedPointOptions(tol_q=-1.0), r"tol_q"),
    ("keep_q below tol_q", lambda: FixedPointOptions(keep_q=1e-20), r"keep_q"),
    # networks and training
    (
        "unknown architecture",
        lambda: make_cell("transformer", "tanh", 4, 2, jax.random.PRNGKey(0)),
        r"architecture must be one of",
    ),
    (
        "unknown activation",
        lambda: make_cell("gru", "sigmoid", 4, 2, jax.random.PRNGKey(0)),
        r"activation must be one of",
    ),
    ("negative unit count", lambda: make_cell("gru", "tanh", -3, 2, jax.random.PRNGKey(0)), r"n_units"),
    ("fractional input count", lambda: make_cell("gru", "tanh", 4, 2.5, jax.random.PRNGKey(0)), r"n_inputs"),
    ("unknown task name", lambda: make_task("mnist"), r"task must be one of"),
    ("empty batch", lambda: FlipFlop().sample(jax.random.PRNGKey(0), 0), r"batch"),
    (
        "no seeds",
        lambda: train_population(FlipFlop(), "gru", "tanh", 8, [], OK, SHORT),
        r"seeds must hold at least one seed",
    ),
    (
        "negative seed",
        lambda: train_population(FlipFlop(), "gru", "tanh", 8, [-1], OK, SHORT),
        r"seeds must be integers",
    ),
    (
        "one setting for two seeds",
        lambda: train_population(FlipFlop(), "gru", "tanh", 8, [0, 1], [OK], SHORT),
        r"hyperparameters must be one Hyperparameters or one per seed \(2\)",
    ),
    # analyses
    (
        "mismatched sample counts",
        lambda: svcca(np.ones((10, 3)), np.ones((9, 3))),
        r"same number of samples.*10 and 9",
    ),
    ("NaN activity", lambda: cka(np.full((10, 3), np.nan), np.ones((10, 3))), r"X contains NaN"),
    ("empty arrays", lambda: svcca(np.zeros((0, 3)), np.zeros((0, 3))), r"at least 2 samples"),
    ("a vector, not a matrix", lambda: cka(np.ones(10), np.ones(10)), r"samples × features\) matrix"),
    ("unknown kernel", lambda: cka(np.eye(5), np.eye(5), kernel="poly"), r"kernel must be one of"),
    ("variance above 1", lambda: svcca(np.eye(5), np.eye(5), variance=1.5), r"variance must be in \(0, 1\]"),
    ("constant activity", lambda: svcca(np.ones((6, 2)), np.eye(6)), r"constant"),
    ("one representation", lambda: pairwise([np.eye(5)], "svcca"), r"at least 2 representations"),
    (
        "representations of different lengths",
        lambda: pairwise([np.eye(5), np.eye(4)], "cka"),
        r"same number of samples",
    ),
    ("unknown metric", lambda: pairwise([np.eye(5), np.eye(5)], "rsa"), r"metric must be one of"),
    ("NaN initial states", lambda: find_fixed_points(bistable, jnp.zeros(3), np.full((4, 3), np.nan)), r"NaN"),
    ("initial states of the wrong rank", lambda: find_fixed_points(bistable, jnp.zeros(3), np.zeros(3)), r"n_states"),
    (
        "step that changes the state size",
        lambda: find_fixed_points(lambda h, x: h[:2], jnp.zeros(3), np.zeros((4, 3))),
        r"same shape",
    ),
    ("zero time step", lambda: oscillation_frequency([1j], 0.0), r"dt"),
    ("asymmetric distances", lambda: mds(np.triu(np.ones((4, 4)), 1), method="classical"), r"symmetric"),
    ("one label short", lambda: silhouette(np.zeros((4, 4)), ["a", "b", "a"]), r"one label per row"),
    (
        "zero permutations",
        lambda: cluster_test(1 - np.eye(4), ["a", "a", "b", "b"], n_permutations=0),
        r"n_permutations",
    ),
    ("a single label", lambda: cluster_test(1 - np.eye(4), ["a"] * 4), r"two distinct"),
    (
        "negative trial length for slow points",
        lambda: slow_points(bistable, jnp.zeros(3), np.ones((4, 3)), trial_steps=-5, state_scale=1.0),
        r"trial_steps",
    ),
    (
        "zero state scale",
        lambda: slow_points(bistable, jnp.zeros(3), np.ones((4, 3)), trial_steps=10, state_scale=0.0),
        r"state_scale",
    ),
    (
        "trajectory of the wrong width",
        lambda: oscillatory_mode(np.array([1j, -1j]), np.eye(2), np.ones((5, 3)), 0.01),
        r"trajectory",
    ),
    ("negative second-round seeds", lambda: FixedPointOptions(n_between=-1), r"n_between"),
]

DATA = [
    # the command line: 2 for bad arguments (before any work), 1 for work that cannot be done
    (
        "unknown task",
        lambda d: d.cli_here("train", "--task", "mnist", "--data", str(d.stored)),
        r"exit 2: .*invalid choice: 'mnist'",
    ),
    (
        "unknown profile",
        lambda d: d.cli_here("train", "--profile", "huge", "--data", str(d.stored)),
        r"exit 2: .*invalid choice: 'huge'",
    ),
    (
        "zero workers",
        lambda d: d.cli_here("train", "--workers", "0", "--dask", "local", "--data", str(d.stored)),
        r"exit 2: .*--workers must be a positive integer",
    ),
    (
        "zero members per population",
        lambda d: d.cli_here("train", "--max-members", "0", "--data", str(d.stored)),
        r"exit 2: .*--max-members must be a positive integer",
    ),
    (
        "zero notebooks side by side",
        lambda d: d.cli_here("book", "--jobs", "0", "--data", str(d.stored)),
        r"exit 2: .*--jobs must be a positive integer",
    ),
    (
        "data directory is a file",
        lambda d: d.cli_here("train", "--task", "cdi", "--data", str(d.stored / "tiny" / "cdi" / "manifest.csv")),
        r"exit 2: .*is a file, not a directory",
    ),
    (
        "read-only data directory",
        lambda d: d.cli("train", "--task", "cdi", "--profile", "tiny", "--data", str(d.stored), read_only=d.stored),
        r"exit 2: .*is not writable",
    ),
    (
        "unknown book profile",
        lambda d: d.cli_here("book", "--profile", "enormous", "--data", str(d.stored)),
        r"exit 2: .*invalid choice: 'enormous'",
    ),
    (
        "claims with nothing trained",
        lambda d: d.cli_here("claims", "--profile", "small", "--data", str(d.stored)),
        r"exit 1: .*no population at .*train it first",
    ),
    (
        "training over a damaged weights file",
        lambda d: d.cli_here("train", "--task", "cdi", "--profile", "tiny", "--data", str(d.damaged)),
        r"exit 1: .*stored networks are damaged .*\.eqx.*rerun with --repair",
    ),
    (
        "read-only data directory (API)",
        lambda d: d.run(
            sys.executable,
            "-c",
            f"from paperlib.training.sweep import train; train(['sine'], 'tiny', {str(d.stored)!r})",
            read_only=d.stored,
        ),
        r"StoreError: data directory .* cannot be written: Read-only file system",
    ),
    # the Python API: stored data
    (
        "data directory is a file (API)",
        lambda d: train(["cdi"], "tiny", str(d.stored / "tiny" / "cdi" / "manifest.csv")),
        r"cannot be written: Not a directory",
    ),
    ("unknown task (API)", lambda d: train(["mnist"], "tiny", str(d.stored)), r"task must be one of"),
    ("unknown profile (API)", lambda d: train(["cdi"], "huge", str(d.stored)), r"profile must be one of"),
    (
        "truncated weights file",
        lambda d: load_population(d.damaged / "tiny" / "cdi"),
        r"weights file .*\.eqx does not match its checksum",
    ),
    ("no population there", lambda d: load_population(d.stored / "tiny" / "sine"), r"no population at .*sine"),
    # the environment: one clear line, never a traceback, nothing half-written left or loaded
    (
        "unreachable Dask scheduler",
        lambda d: d.cli(
            "train",
            "--task",
            "cdi",
            "--profile",
            "tiny",
            "--data",
            str(d.stored),
            "--scheduler",
            "tcp://127.0.0.1:9",
            "--scheduler-timeout",
            "0.5",
        ),
        r"exit 1: error: cannot reach the Dask scheduler at tcp://127.0.0.1:9 within 0.5 s \(OSError\); "
        r"is it running\?$",
    ),
    (
        "disk full while training",
        lambda d: d.on_full_disk("train", "--task", "sine", "--profile", "tiny"),
        r"exit 1: .*error: No space left on device \(.*/tiny/sine/.*\); "
        r"nothing partly written was kept, rerun to resume$",
    ),
    (
        "Ctrl-C while training",
        lambda d: d.interrupted("train", "--task", "cdi", "--profile", "tiny"),
        r"exit 130: .*error: interrupted; finished work is kept, rerun the same command to resume$",
    ),
    (
        "Ctrl-C while building the book",
        lambda d: d.interrupted_book(),
        r"exit 130: .*error: interrupted; finished work is kept, rerun the same command to resume$",
    ),
    (
        "notebook kernel dies",
        lambda d: execute_notebooks(d.notebooks / "out", {"profile": "tiny"}, ("dies",), notebooks_dir=d.notebooks),
        r"notebook dies\.ipynb: its kernel died \(out of memory, or killed\); rerun to try again",
    ),
]


def tree_digest(path: Path) -> dict[str, str]:
    """Checksums of every stored file (the training lock's holder note aside)."""
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def finished(result: subprocess.CompletedProcess, cli: bool = True) -> None:
    """Raise ``CommandFailed`` for a non-zero exit; the command line's must end in one ``error:`` line."""
    if result.returncode == 0:
        return
    stderr = result.stderr.strip()
    if not cli:
        raise CommandFailed(f"exit {result.returncode}: {stderr}")
    assert "Traceback" not in stderr, stderr
    last = stderr.splitlines()[-1] if stderr else ""
    assert last.startswith(("error:", "usage:")) or "error:" in last, f"the last line is not the error: {last!r}"
    raise CommandFailed(f"exit {result.returncode}: {stderr}")


# Inside a mount namespace: a tmpfs with room for a copy of the stored population and 12 KiB more,
# the command run there, then a report of what is left: the stored files' digests, temporaries,
# and whether every manifest row still matches its weights file.
FULL_DISK = textwrap.dedent("""
    import json, shutil, subprocess, sys
    from pathlib import Path
    stored, mount, *command = sys.argv[1:]
    used = sum(4 * -(-p.stat().st_size // 4096) for p in Path(stored).rglob("*") if p.is_file())
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={used + 12}k", "tmpfs", mount], check=True)
    shutil.copytree(stored, mount, dirs_exist_ok=True)
    command = [sys.executable, "-m", "paperlib", *command, "--data", mount]
    result = subprocess.run(command, capture_output=True, text=True)
    from paperlib.training.store import TaskStore
    stores = [TaskStore(mount, "tiny", t) for t in ("cdi", "sine")]
    print(json.dumps({
        "returncode": result.returncode, "stderr": result.stderr,
        "digest": {str(p.relative_to(mount)): p.read_bytes().hex() for p in sorted(Path(mount).rglob("*"))
                   if p.is_file() and "tiny/cdi" in str(p)},
        "temporaries": [str(p) for p in Path(mount).rglob("*.tmp")],
        "damaged": [r["network"] for s in stores for r in s.damaged()],
    }))
""")


@pytest.fixture(scope="module")
def d(stored_cdi, root, tmp_path_factory, unfinished_copy, interrupt):
    """The stored population, a damaged copy, and the runners the ``DATA`` table calls."""
    damaged = tmp_path_factory.mktemp("damaged")
    shutil.copytree(stored_cdi, damaged, dirs_exist_ok=True)
    store = TaskStore(damaged, "tiny", "cdi")
    victim = store.weights_path(store.rows()[3])
    victim.write_bytes(victim.read_bytes()[:50])
    notebooks = tmp_path_factory.mktemp("notebooks")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell('profile = "tiny"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("import os\n\nos._exit(1)  # the kernel dies, as it would out of memory"),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, notebooks / "dies.ipynb")

    def run(*command: str, read_only: Path | None = None, cli: bool = False) -> None:
        """Run a command from the project root; with ``read_only``, inside a mount namespace where
        that directory is a read-only bind mount (a real read-only file system, even for root)."""
        command = list(command)
        if read_only is not None:
            remount = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
            command = ["unshare", "-rm", "sh", "-c", remount, str(read_only), *command]
        finished(subprocess.run(command, capture_output=True, text=True, cwd=root, timeout=120), cli)

    def cli(*args: str, read_only: Path | None = None) -> None:
        run(sys.executable, "-m", "paperlib", *args, read_only=read_only, cli=True)

    def cli_here(*args: str) -> None:
        """The command line run in this process (no interpreter and JAX start-up per case)."""
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exit:
                code = exit.code
        finished(subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue()))

    def on_full_disk(*args: str) -> None:
        """The command on a copy of the stored population in a file system that fills up."""
        mount = tmp_path_factory.mktemp("full")
        command = ["unshare", "-rm", sys.executable, "-c", FULL_DISK, str(stored_cdi), str(mount), *args]
        report = json.loads(subprocess.run(command, capture_output=True, text=True, cwd=root, timeout=300).stdout)
        before = {
            str(p.relative_to(stored_cdi)): p.read_bytes().hex()
            for p in sorted(stored_cdi.rglob("*"))
            if p.is_file() and p.name != ".lock"
        }
        assert report["digest"] == before, "the stored population changed"
        assert report["temporaries"] == [] and report["damaged"] == [], report
        finished(subprocess.CompletedProcess(args, report["returncode"], "", report["stderr"]))

    def interrupted(*args: str) -> None:
        """The command on a copy of the stored population whose last six work units are not
        finished, Ctrl-C'd once one more is stored; the same command then trains only the rest."""
        data = unfinished_copy(tmp_path_factory.mktemp("interrupted"))
        store = TaskStore(data, "tiny", "cdi")
        result = interrupt(*args, "--data", data, until=lambda: len(store.finished()) >= 6)
        kept = {r["network"]: r["sha256"] for r in store.rows()}
        assert result.returncode == 130, f"exit {result.returncode} with {len(kept)} of 16 stored: {result.stderr}"
        assert len(kept) >= 6 and not list(data.rglob("*.tmp")) and store.damaged() == []
        command = [sys.executable, "-m", "paperlib", *args, "--data", str(data)]
        resumed = subprocess.run(command, capture_output=True, text=True, cwd=root, timeout=300)
        assert f"{len(kept)} already stored, {16 - len(kept)} trained now" in resumed.stdout, resumed.stderr
        assert all({r["network"]: r["sha256"] for r in store.rows()}[n] == h for n, h in kept.items())
        finished(result)

    def interrupted_book() -> None:
        """``book`` on the tiny populations, Ctrl-C'd once its first notebook is written: no kernel
        outlives it, no temporary is left, and the stored networks are untouched."""
        book = tmp_path_factory.mktemp("book") / "book"
        shutil.copytree(root / "book", book, ignore=shutil.ignore_patterns("_build", "notebooks"))
        data = root / "data"
        networks = {k: v for k, v in tree_digest(data / "tiny").items() if "/analysis/" not in k}
        result = interrupt(
            "book",
            "--profile",
            "tiny",
            "--data",
            data,
            "--book",
            book,
            until=lambda: bool(list(book.glob("notebooks/*.ipynb"))),
        )
        assert not list((data / "tiny").rglob("*.tmp"))
        assert {k: v for k, v in tree_digest(data / "tiny").items() if "/analysis/" not in k} == networks
        finished(result)

    runners = dict(
        cli_here=cli_here,
        run=run,
        cli=cli,
        on_full_disk=on_full_disk,
        interrupted=interrupted,
        interrupted_book=interrupted_book,
    )
    return types.SimpleNamespace(stored=stored_cdi, damaged=damaged, notebooks=notebooks, **runners)


@pytest.fixture(autouse=True)
def checks_users_meet(library_checks_only):
    """Every case here is wrong on purpose: the library's own checks answer it, as users meet them."""


@pytest.mark.parametrize("problem, call, message", CONFIGURATION, ids=[name for name, _, _ in CONFIGURATION])
def test_a_bad_configuration_is_named(problem, call, message):
    with pytest.raises(ValueError, match="(?s)" + message):
        call()


@pytest.mark.parametrize("problem, call, message", DATA, ids=[name for name, _, _ in DATA])
def test_bad_input_and_a_failing_environment_are_named_and_change_nothing(d, problem, call, message):
    before = {"stored": tree_digest(d.stored), "damaged": tree_digest(d.damaged)}
    with pytest.raises((ValueError, StoreError, NotebookError, CommandFailed), match="(?s)" + message):
        call(d)
    after = {"stored": tree_digest(d.stored), "damaged": tree_digest(d.damaged)}
    assert after == before, f"{problem}: stored data changed"


def test_a_ctrl_c_swallowed_where_it_lands_still_ends_the_command_as_interrupted(monkeypatch, tmp_path, capsys):
    """A ``KeyboardInterrupt`` raised inside a finaliser or a bare ``except`` is lost; the command
    must still exit 130, and the caller's own SIGINT handler is back afterwards."""

    def swallows(args):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)  # the handler runs here, before the sleep ends
        except KeyboardInterrupt:
            pass  # what a library's bare except does
        return 0

    monkeypatch.setattr(command_line, "_train", swallows)
    monkeypatch.setattr(command_line.paperlib, "use_host_devices", lambda: None)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert main(["train", "--task", "cdi", "--profile", "tiny", "--data", str(tmp_path)]) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == "error: " + command_line.INTERRUPTED
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    monkeypatch.setattr(command_line, "_train", lambda args: 0)  # no Ctrl-C: the command's own code
    assert main(["train", "--task", "cdi", "--profile", "tiny", "--data", str(tmp_path)]) == 0
