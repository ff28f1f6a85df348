"""Scaffolding shared by the tests: the project root, the command line, the mini profile, stored populations.

- The suite runs with one single-threaded JAX device per core, as the command line sets up.
- ``tiny_data`` is ``data/``, the notebooks' default: trained once per checkout, shared with nbval.
- ``stored_cdi`` is a private copy of the tiny CDI population, for tests that damage or lock it;
  ``unfinished_cdi`` a copy of it with six work units left to train.
- ``interrupt`` runs the command line and signals it (Ctrl-C, kill -9) at a chosen moment.
- ``tiny_book`` is the whole book built once at the tiny scale (the book and browser tests read it).
- The suite runs in one pytest-xdist worker per core (``-n auto --dist loadfile``, set in
  ``pyproject.toml``): each file's tests run in one worker, in order (a notebook's cells share its
  kernel; a module's fixtures are made once), and the book and site tests share one (they read one
  built book). Each worker's linear algebra gets its share of the cores, as the book's kernels do
  side by side.
- nbval's kernels talk over IPC sockets in a private folder, as the book's do: no TCP port, and so
  no unencrypted-TCP warning from any kernel the suite starts.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nbval.kernel
import pytest
import threadpoolctl

import paperlib
from paperlib._io import computing
from paperlib.publishing.book import BLAS_THREADS, BOOK_DIR, Repository, blas_share, build_book
from paperlib.training.profiles import PROFILES, TASK_NAMES, Profile
from paperlib.training.store import COLUMNS, TaskStore, write_table
from paperlib.training.sweep import train

paperlib.use_host_devices()


def worker_blas_share() -> int | None:
    """Each pytest-xdist worker's share of the cores for the BLAS thread pools (see BLAS_THREADS);
    None outside a worker or where the thread counts are set already."""
    if "PYTEST_XDIST_WORKER_COUNT" not in os.environ or any(name in os.environ for name in BLAS_THREADS):
        return None
    return blas_share(int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))


BLAS_SHARE = worker_blas_share()
if BLAS_SHARE:  # this worker's pools (already started: a pytest plugin imports NumPy) and its children's
    os.environ.update(dict.fromkeys(BLAS_THREADS, str(BLAS_SHARE)))
    threadpoolctl.threadpool_limits(BLAS_SHARE)

_SOCKETS = tempfile.mkdtemp(prefix="paperlib-nbval-")
atexit.register(shutil.rmtree, _SOCKETS, ignore_errors=True)


class KernelOverIPC(nbval.kernel.KernelManager):
    """The kernel manager nbval starts each notebook's kernel with, on IPC sockets under ``_SOCKETS``."""

    def __init__(self, **kwargs):
        super().__init__(transport="ipc", ip=tempfile.mkdtemp(dir=_SOCKETS) + "/kernel", **kwargs)


nbval.kernel.KernelManager = KernelOverIPC  # nbval names no transport option; its module attribute is what it uses

ROOT = Path(__file__).resolve().parent.parent

# Files whose tests run in the same worker as another file's: the site tests read the tiny book
# that the book tests read, built once per worker (about 90 s).
SAME_WORKER = {"tests/test_site.py": "tests/test_book.py"}


# Files whose tests are each a group of its own, started first: each retrains a network for minutes.
SPLIT = ("tests/test_paper64_release.py",)
# Groups started right after those: the tiny book, built once (about two and a half minutes).
EARLY = ("tests/test_book.py", "tests/test_site.py")


def worker_scope(nodeid: str) -> str:
    """The group a test runs in, in one worker and in order: its file (a notebook's cells share its
    kernel; a module's fixtures are made once), the file SAME_WORKER names, or (SPLIT) the test alone."""
    path = nodeid.split("::", 1)[0]
    return nodeid if path in SPLIT else SAME_WORKER.get(path, path)


def pytest_collection_modifyitems(config, items):
    """The SPLIT files' tests first, then the EARLY files', so the longest groups do not start last."""
    path = lambda item: item.nodeid.split("::", 1)[0]  # noqa: E731
    items.sort(key=lambda item: (path(item) not in SPLIT, path(item) not in EARLY))


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``--dist loadfile``, with the files of SAME_WORKER in one worker (``worker_scope``), the groups
    handed out in collection order (xdist would otherwise hand out the groups with the most tests
    first, and the single-test SPLIT groups, the longest, last)."""
    if config.getvalue("dist") != "loadfile":
        return None
    config.option.loadscopereorder = False
    from xdist.scheduler import LoadScopeScheduling

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return worker_scope(nodeid)

    return ByFile(config, log)


@pytest.fixture(scope="session")
def root() -> Path:
    """The project root (the command line runs from there)."""
    return ROOT


@pytest.fixture(scope="session")
def cli() -> Callable[..., subprocess.CompletedProcess]:
    """``cli("train", "--profile", "tiny", ...)`` runs ``python -m paperlib`` from the root and returns
    the finished process (``returncode``, ``stdout``, ``stderr``)."""

    def run(*args, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "paperlib", *map(str, args)]
        return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=timeout, **kwargs)

    return run


@pytest.fixture(scope="session")
def mini() -> Profile:
    """The tiny profile cut to two work units per task (Vanilla-tanh and GRU-tanh, two seeds each)."""
    return dataclasses.replace(PROFILES["tiny"], name="mini", architectures=("vanilla", "gru"), activations=("tanh",))


@pytest.fixture(scope="session")
def tiny_data() -> Path:
    """``data/`` holding every task's tiny population (trained here if missing, by one worker while
    the others wait)."""
    with computing(ROOT / "data" / "tiny"):
        train(TASK_NAMES, "tiny", str(ROOT / "data"), progress=False)
    return ROOT / "data"


@pytest.fixture(scope="session")
def stored_cdi(tmp_path_factory, tiny_data) -> Path:
    """A data directory of its own holding the tiny CDI population (a copy of ``tiny_data``'s)."""
    path = tmp_path_factory.mktemp("stored")
    shutil.copytree(tiny_data / "tiny" / "cdi", path / "tiny" / "cdi", ignore=shutil.ignore_patterns("analysis"))
    return path


@pytest.fixture(scope="session")
def unfinished_copy(stored_cdi) -> Callable[[Path], Path]:
    """``unfinished_copy(path)`` copies ``stored_cdi`` into ``path`` with its last six work units
    unfinished (their rows removed from the manifest): ``train --task cdi --profile tiny`` there has
    12 of its 16 networks to train, so that a test stopping it once one more unit is stored (4 + 2)
    still finds it running, however long the test takes to look."""

    def copy(path: Path) -> Path:
        shutil.copytree(stored_cdi, path, dirs_exist_ok=True)
        store = TaskStore(path, "tiny", "cdi")
        write_table(store.manifest_path, COLUMNS, store.rows()[:-12])
        return path

    return copy


@pytest.fixture
def unfinished_cdi(unfinished_copy, tmp_path) -> Path:
    """A copy of ``stored_cdi`` with six work units left to train (see ``unfinished_copy``)."""
    return unfinished_copy(tmp_path)


@pytest.fixture(scope="session")
def interrupt() -> Callable[..., subprocess.CompletedProcess]:
    """``interrupt(*args, until=..., sig=SIGINT)`` starts ``python -m paperlib ARGS`` from the root,
    sends it ``sig`` as soon as ``until()`` is true (or after ``deadline`` seconds), and returns the
    finished process; a run that ended before the signal keeps its own exit code."""

    def run(*args, until: Callable[[], bool], sig: int = signal.SIGINT, deadline: float = 300):
        # A suite started in the background (``cmd &`` without job control) inherits SIGINT ignored,
        # and so would the commands it starts: handled here instead (checked at each start, whatever
        # ran before), their exec gets the default back.
        if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        command = [sys.executable, "-m", "paperlib", *map(str, args)]
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        end = time.time() + deadline
        while time.time() < end and proc.poll() is None and not until():
            time.sleep(0.1)
        if proc.poll() is None:
            proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=120)
        return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)

    return run


@dataclasses.dataclass(frozen=True)
class BuiltBook:
    index: Path  # the site's index.html
    stderr: str  # what the build and its kernels wrote to the standard error
    repository: Repository  # the repository its launch buttons name


@pytest.fixture(scope="session")
def tiny_book(tmp_path_factory, tiny_data) -> BuiltBook:
    """The whole book built at the tiny scale from a copy of ``book/``, as published from ``example-lab/paperlib``."""
    book = tmp_path_factory.mktemp("tiny-book") / "book"
    shutil.copytree(BOOK_DIR, book, ignore=shutil.ignore_patterns("_build", "notebooks"))
    repo = Repository("example-lab", "paperlib")
    log = book.parent / "stderr.txt"
    saved = os.dup(2)  # the kernels write to the inherited descriptor 2, not to sys.stderr
    with open(log, "w") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            index = build_book("tiny", tiny_data, book, repo=repo)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return BuiltBook(index, log.read_text(), repo)


@pytest.fixture
def library_checks_only():
    """The suite checks the jaxtyping annotations at run time (``--jaxtyping-packages``), which would
    refuse a value of the wrong type before the library's own check, the one users meet, could; a
    test of bad input asks for this fixture to turn those run-time type checks off while it runs."""
    import jaxtyping

    jaxtyping.config.update("jaxtyping_disable", True)
    yield
    jaxtyping.config.update("jaxtyping_disable", False)
