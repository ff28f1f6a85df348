"""Execute the notebooks with papermill and build the jupyter-book site.

- ``execute_notebooks``: each ``notebooks/<name>.ipynb`` with the profile and data directory as
  papermill parameters, written to ``<book>/notebooks/<name>.ipynb`` (the table of contents
  lists these), one per CPU core side by side; a notebook that raises, or whose kernel dies,
  stops the build naming it.
- ``build_book``: then jupyter-book 1.x builds the site strictly (``-W``: a warning fails the
  build) without executing anything again.
- ``repository``: the GitHub repository the site is published from (CI environment or git
  remote); it sets the launch buttons (Binder, Colab) and the install cell of the executed
  notebooks. The published branch ``PUBLISHED_BRANCH`` holds the tree with the executed notebooks
  in place of the sources (``.github/workflows/book.yml``), so a launched page runs where it was made.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from importlib.metadata import entry_points
from pathlib import Path

from tqdm import tqdm

from paperlib._checks import check_int
from paperlib.training.profiles import TASK_NAMES

# A clone's folders, relative to the working directory (the commands run from a clone's root; an
# option points elsewhere), never found from where the package is installed.
NOTEBOOKS_DIR = Path("notebooks")
BOOK_DIR = Path("book")
NOTEBOOKS: tuple[str, ...] = (
    "tasks",
    "fig1_flipflop",
    "fig2_sine",
    "fig3_cdi",
    "fig4_untrained",
    "appendix_c_losses",
    "appendix_e_svcca_cka",
    "your_networks",
    "dsa",
    "claims",
    "performance",
)  # in the book's order
# the tasks whose populations each notebook reads (``run`` trains those that are missing)
NEEDS: dict[str, tuple[str, ...]] = {
    "tasks": (),
    "fig1_flipflop": ("flipflop",),
    "fig2_sine": ("sine",),
    "fig3_cdi": ("cdi",),
    "fig4_untrained": ("cdi",),
    "appendix_c_losses": TASK_NAMES,
    "appendix_e_svcca_cka": TASK_NAMES,
    "your_networks": ("flipflop",),
    "dsa": TASK_NAMES,
    "claims": TASK_NAMES,
    "performance": (),
}
# Side by side, these start first (the longest at the small scale: DSA's fits, the fixed points) and
# the short ones fill in beside them; those that time things run alone, after the others.
LONGEST: tuple[str, ...] = ("dsa", "fig1_flipflop", "fig2_sine", "fig3_cdi")
TIMED: tuple[str, ...] = ("performance",)
PAGES = "notebooks"  # the executed notebooks' folder in the book: page ``notebooks/<name>``, as in the repository
PUBLISHED_BRANCH = "book-notebooks"  # the tree with executed notebooks, pushed by the book workflow
PAGE_TAGS = ("hide-input",)  # every code cell of a page: text and figures first, the code one click away
# parameters only some notebooks take, besides ``profile`` and ``data_dir`` (each notebook is given
# only those its parameters cell names)
EXTRA_PARAMETERS: dict[str, tuple[str, ...]] = {"claims": ("beside",)}

# The first cell of every notebook (tagged ``remove-cell``: not shown in the book). Where paperlib
# is missing (Colab), it clones the published branch, installs it and works from its notebooks
# folder, as in a checkout; elsewhere it does nothing. ``build_book`` fills in the repository.
INSTALL_CELL = """\
# Sets up paperlib where it is missing (e.g. Colab); does nothing where it is installed.
import importlib
import importlib.util
import os
import subprocess
import sys

REPOSITORY, BRANCH = None, None  # the book build writes the published repository and branch here
if importlib.util.find_spec("paperlib") is None:
    if REPOSITORY is None:
        raise ModuleNotFoundError("paperlib is not installed: from a clone, run `make lab` (or pip install -e .)")
    subprocess.run(["git", "clone", "-q", "--depth", "1", "-b", BRANCH, REPOSITORY, "paperlib-src"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "./paperlib-src"], check=True)
    importlib.invalidate_caches()
    os.chdir("paperlib-src/notebooks")"""


@dataclasses.dataclass(frozen=True)
class Repository:
    """A GitHub repository the book is published from: ``https://github.com/<owner>/<name>``."""

    owner: str
    name: str
    server: str = "https://github.com"

    @property
    def url(self) -> str:
        return f"{self.server}/{self.owner}/{self.name}"

    @property
    def pages_url(self) -> str:
        """Where GitHub Pages serves the book (a project site; ``<owner>.github.io`` for a user site)."""
        if self.name.lower() == f"{self.owner.lower()}.github.io":
            return f"https://{self.name.lower()}/"
        return f"https://{self.owner.lower()}.github.io/{self.name}/"


_REMOTE = re.compile(
    r"^(?:https?://|git@|ssh://git@)(?P<host>[^/:]+)[/:](?P<owner>[^/]+)/(?P<name>[^/]+?)(?:\.git)?/?$"
)


def repository(environ: dict | None = None, root: Path = Path(".")) -> Repository | None:
    """The repository the book is published from: GitHub Actions' ``GITHUB_REPOSITORY`` (and
    ``GITHUB_SERVER_URL``) when set, else the ``origin`` remote of ``root`` if it is on GitHub, else None."""
    environ = os.environ if environ is None else environ
    if environ.get("GITHUB_REPOSITORY", "").count("/") == 1:
        owner, name = environ["GITHUB_REPOSITORY"].split("/")
        return Repository(owner, name, environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/"))
    try:
        remote = subprocess.run(
            ["git", "-C", str(root), "remote", "get-url", "origin"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _REMOTE.match(remote)
    if match is None or match["host"] != "github.com":
        return None
    return Repository(match["owner"], match["name"])


class NotebookError(RuntimeError):
    """A notebook raised while executing; the message names the notebook and the error."""


def default_jobs() -> int:
    """How many notebooks run side by side: one per CPU core, or one where JAX has a GPU plugin
    (each kernel would claim most of the card's memory)."""
    gpu = os.environ.get("JAX_PLATFORMS", "").lower() != "cpu" and bool(entry_points(group="jax_plugins"))
    return 1 if gpu else len(os.sched_getaffinity(0))


def execute_notebooks(
    out_dir: Path,
    parameters: dict,
    names: tuple[str, ...] = NOTEBOOKS,
    notebooks_dir: Path = NOTEBOOKS_DIR,
    *,
    jobs: int | None = None,
) -> list[Path]:
    """Run each notebook with papermill (kernel cwd: the notebooks folder); return the executed paths.

    ``jobs`` notebooks run side by side (default ``default_jobs()``), the longest first; those in
    ``TIMED`` run alone after the others, so what they measure has the machine to itself. An
    analysis two kernels both need is computed by one while the other waits (``analysis.cached``).
    A notebook that raises, or whose kernel dies, raises ``NotebookError`` naming it, and Ctrl-C
    raises ``KeyboardInterrupt``: both stop every kernel first (what was cached is kept). No kernel
    outlives the call.
    """
    jobs = default_jobs() if jobs is None else jobs
    check_int("jobs", jobs)
    notebooks_dir, out_dir = Path(notebooks_dir).resolve(), Path(out_dir).resolve()
    if not notebooks_dir.is_dir():
        raise NotebookError(f"no notebooks folder {notebooks_dir}: run from a clone's root")
    for name in names:
        if not (notebooks_dir / f"{name}.ipynb").is_file():
            raise NotebookError(f"notebook {notebooks_dir / name}.ipynb does not exist")
    out_dir.mkdir(parents=True, exist_ok=True)
    order = sorted(names, key=lambda name: LONGEST.index(name) if name in LONGEST else len(LONGEST))
    with tqdm(total=len(names), desc="notebooks", unit="nb") as bar:
        for group, width in (([n for n in order if n not in TIMED], jobs), ([n for n in order if n in TIMED], 1)):
            if group:
                width = min(width, len(group))  # how many kernels really run at once
                with _kernel_environment(width):
                    _execute_all(group, width, notebooks_dir, out_dir, parameters, bar)
    return [out_dir / f"{name}.ipynb" for name in names]


def _execute_all(names: list[str], jobs: int, notebooks_dir: Path, out_dir: Path, parameters: dict, bar) -> None:
    """papermill on ``names``, ``jobs`` at a time, each in a worker thread with a kernel this thread can kill.

    In the main thread nbclient would take over SIGINT (it only shuts the kernel down, and the
    build could go on); from worker threads it cannot, so Ctrl-C raises ``KeyboardInterrupt``
    here, which kills every kernel and waits for papermill to notice before passing it on.
    """
    import papermill
    from jupyter_client.manager import AsyncKernelManager
    from nbclient.exceptions import DeadKernelError

    # IPC sockets in a private temporary folder: no TCP port, and no unencrypted-TCP warning.
    with (
        tempfile.TemporaryDirectory(prefix="paperlib-kernel-") as sockets,
        concurrent.futures.ThreadPoolExecutor(jobs, thread_name_prefix="papermill") as pool,
    ):
        kernels = {
            name: AsyncKernelManager(kernel_name="python3", transport="ipc", ip=str(Path(sockets) / name))
            for name in names
        }
        futures = {
            pool.submit(
                _papermill,
                notebooks_dir / f"{name}.ipynb",
                out_dir / f"{name}.ipynb",
                {
                    k: v
                    for k, v in parameters.items()
                    if k in ("profile", "data_dir") or k in EXTRA_PARAMETERS.get(name, ())
                },
                kernels[name],
            ): name
            for name in names
        }
        pending = set(futures)
        try:
            while pending:
                done, pending = concurrent.futures.wait(pending, timeout=0.2, return_when="FIRST_COMPLETED")
                for future in done:
                    name = futures[future]
                    try:
                        future.result()
                    except papermill.PapermillExecutionError as err:
                        raise NotebookError(f"notebook {name}.ipynb failed: {err.ename}: {err.evalue}") from None
                    except DeadKernelError:
                        raise NotebookError(
                            f"notebook {name}.ipynb: its kernel died (out of memory, or killed); rerun to try "
                            "again (trained networks and cached analyses are kept)"
                        ) from None
                    bar.set_postfix_str(name)
                    bar.update()
        except BaseException:
            for future in pending:
                future.cancel()
            running = [future for future in pending if not future.cancelled()]
            deadline = time.monotonic() + 60
            while running and time.monotonic() < deadline:  # a kernel starting meanwhile is killed on the next pass
                for kernel in kernels.values():
                    if kernel.has_kernel and kernel.provisioner is not None:
                        kernel.provisioner.process.kill()
                running = [future for future in running if not future.done()]
                time.sleep(0.1)
            raise


def _papermill(source: Path, target: Path, parameters: dict, kernel) -> None:
    """papermill on one notebook with ``kernel`` (started in the notebook's folder), shut down
    afterwards whatever happened.

    The folder is the kernel's, given to nbclient, and not papermill's ``cwd``: that one changes the
    working directory of this whole process, which threads side by side would leave changed.
    """
    import papermill
    from jupyter_core.utils import run_sync

    try:
        papermill.execute_notebook(
            str(source),
            str(target),
            parameters=parameters,
            kernel_name="python3",
            progress_bar=False,
            km=kernel,
            resources={"metadata": {"path": str(source.parent)}},
        )
    finally:
        if kernel.has_kernel:
            run_sync(kernel.shutdown_kernel)(now=True)


# Thread pools of the linear-algebra libraries NumPy and SciPy call (OpenBLAS here). Idle, their
# threads spin for a while before sleeping: two kernels each with one thread per core were measured
# 8x slower on the same eigen- and singular-value decompositions than with one thread each.
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def blas_share(processes: int) -> int:
    """Each of ``processes`` side by side: its share of the CPU cores for the BLAS thread pools."""
    return max(1, len(os.sched_getaffinity(0)) // processes)


@contextmanager
def _kernel_environment(jobs: int):
    """What the kernels inherit: ``TQDM_DISABLE`` (progress bars belong in the terminal, not in the
    pages) and, side by side, their share of the cores for the BLAS thread pools (unless set)."""
    settings = {"TQDM_DISABLE": "1"}
    if jobs > 1:
        settings |= {name: str(blas_share(jobs)) for name in BLAS_THREADS if name not in os.environ}
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def book_folder(book_dir: Path) -> Path:
    """``book_dir`` resolved, or ``NotebookError`` where it holds no ``_config.yml`` (before any work)."""
    book_dir = Path(book_dir).resolve()
    if not (book_dir / "_config.yml").is_file():
        raise NotebookError(f"{book_dir} is not a book folder (no _config.yml): run from a clone's root or pass --book")
    return book_dir


def build_book(
    profile: str,
    data_dir: Path,
    book_dir: Path = BOOK_DIR,
    names: tuple[str, ...] = NOTEBOOKS,
    *,
    repo: Repository | None | str = "auto",
    jobs: int | None = None,
    beside: tuple[str, ...] = (),
) -> Path:
    """Execute every notebook for ``profile`` and build the site; return its ``index.html``.

    ``repo`` sets the launch buttons and the install cell (``"auto"``: ``repository()``; None: none);
    ``jobs`` notebooks run side by side (``execute_notebooks``); the claims page shows the verdicts
    of the ``beside`` profiles next to the book's (their populations stored under ``data_dir`` too).
    """
    book_dir = book_folder(book_dir)
    repo = repository() if repo == "auto" else repo
    pages = book_dir / PAGES
    shutil.rmtree(pages, ignore_errors=True)  # never publish a notebook from an earlier run
    parameters = notebook_parameters(profile, data_dir) | {"beside": list(beside)}
    for path in execute_notebooks(pages, parameters, names, jobs=jobs):
        publishable(path, repo)
    return build_site(book_dir, repo)


def run_notebook(name: str, profile: str, data_dir: Path, book_dir: Path = BOOK_DIR, repo="auto") -> Path:
    """Execute one notebook into the book's pages (``<book>/notebooks/<name>.ipynb``); return its path.

    The site is not rebuilt: ``build_site`` (``python -m paperlib book --no-execute``) does that.
    """
    if name not in NOTEBOOKS:
        raise NotebookError(f"no notebook named {name!r}; the notebooks are {', '.join(NOTEBOOKS)}")
    book_dir = book_folder(book_dir)
    repo = repository() if repo == "auto" else repo
    (path,) = execute_notebooks(book_dir / PAGES, notebook_parameters(profile, data_dir), (name,))
    publishable(path, repo)
    return path


def notebook_parameters(profile: str, data_dir: Path) -> dict:
    """papermill's parameters: the data directory relative to the kernels' working directory (the
    notebooks folder), so that no path of the build machine appears in a page."""
    return {"profile": profile, "data_dir": os.path.relpath(Path(data_dir).resolve(), NOTEBOOKS_DIR)}


def build_site(book_dir: Path = BOOK_DIR, repo: Repository | None | str = "auto") -> Path:
    """Build the site from the executed notebooks already in ``<book>/notebooks``; return its ``index.html``."""
    book_dir = book_folder(book_dir)
    repo = repository() if repo == "auto" else repo
    missing = [name for name in NOTEBOOKS if not (book_dir / PAGES / f"{name}.ipynb").is_file()]
    if missing:
        raise NotebookError(
            f"{book_dir / PAGES} lacks the executed notebooks {', '.join(missing)}: build the whole book once "
            "(python -m paperlib book), or run each (python -m paperlib run NAME)"
        )
    build = book_dir / "_build"
    build.mkdir(parents=True, exist_ok=True)
    config = build / "_config.yml"
    config.write_text(site_config(book_dir, repo))
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jupyter_book), "build", str(book_dir), "--config", str(config), "-W", "-n", "--keep-going", "--quiet"],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise NotebookError(f"jupyter-book build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return build / "html" / "index.html"


def site_config(book_dir: Path, repo: Repository | None) -> str:
    """The book's ``_config.yml`` with the repository and the launch buttons added (YAML text).

    Launch buttons open ``notebooks/<page>.ipynb`` of the published branch: the executed notebook,
    beside the data and examples its relative paths name.
    """
    import yaml

    config = yaml.safe_load((book_dir / "_config.yml").read_text())
    sphinx = config.setdefault("sphinx", {})
    # the written config lives in _build/: local extensions by absolute path
    sphinx["local_extensions"] = {
        name: str((book_dir / path).resolve()) for name, path in sphinx.get("local_extensions", {}).items()
    }
    if repo is not None:
        config["repository"] = {"url": repo.url, "path_to_book": "", "branch": PUBLISHED_BRANCH}
        config["launch_buttons"] = {
            "notebook_interface": "jupyterlab",
            "binderhub_url": "https://mybinder.org",
            "colab_url": "https://colab.research.google.com",
        }
    return yaml.safe_dump(config, sort_keys=False)


def publishable(path: Path, repo: Repository | None) -> None:
    """Make an executed notebook fit to publish, in place: papermill's record of the paths relative
    to the repository (no path of the build machine), its injected parameters folded like every
    code cell, and the install cell told where the published branch is."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    record = nb.metadata.get("papermill", {})
    record.update(input_path=f"notebooks/{path.name}", output_path=f"{PAGES}/{path.name}")
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.setdefault("tags", [])
        if "remove-cell" in tags and repo is not None:
            cell.source = cell.source.replace(
                "REPOSITORY, BRANCH = None, None", f'REPOSITORY, BRANCH = "{repo.url}", "{PUBLISHED_BRANCH}"'
            )
        elif not any(t.startswith(("remove-", "hide-", "show-")) for t in tags):
            tags.extend(PAGE_TAGS)
    nbformat.write(nb, path)
