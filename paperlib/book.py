"""Execute the notebooks with papermill and build the jupyter-book site.

- ``execute_notebooks``: each ``notebooks/<name>.ipynb`` with the profile and data directory as
  papermill parameters, written to ``<book>/generated/<name>.ipynb`` (the table of contents
  lists these); a notebook that raises, or whose kernel dies, stops the build naming it.
- ``build_book``: then jupyter-book 1.x builds the site strictly (``-W``: a warning fails the
  build) without executing anything again.
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = ROOT / "notebooks"
BOOK_DIR = ROOT / "book"
NOTEBOOKS: tuple[str, ...] = (
    "tasks",
    "fig1_flipflop",
    "fig2_sine",
    "fig3_cdi",
    "fig4_untrained",
    "appendix_c_losses",
    "appendix_e_svcca_cka",
    "claims",
    "performance",
)  # in the book's order


class NotebookError(RuntimeError):
    """A notebook raised while executing; the message names the notebook and the error."""


def execute_notebooks(
    out_dir: Path, parameters: dict, names: tuple[str, ...] = NOTEBOOKS, notebooks_dir: Path = NOTEBOOKS_DIR
) -> list[Path]:
    """Run each notebook with papermill (kernel cwd: the notebooks folder); return the executed paths.

    A notebook that raises, or whose kernel dies, raises ``NotebookError`` naming it; Ctrl-C stops
    its kernel and raises ``KeyboardInterrupt``. No kernel outlives the call.
    """
    import papermill
    from nbclient.exceptions import DeadKernelError

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    bar = tqdm(names, desc="notebooks", unit="nb")
    with _quiet_kernels():
        for name in bar:
            source, target = notebooks_dir / f"{name}.ipynb", out_dir / f"{name}.ipynb"
            if not source.is_file():
                raise NotebookError(f"notebook {source} does not exist")
            try:
                _execute(source, target, parameters, notebooks_dir)
            except papermill.PapermillExecutionError as err:
                raise NotebookError(f"notebook {name}.ipynb failed: {err.ename}: {err.evalue}") from None
            except DeadKernelError:
                raise NotebookError(
                    f"notebook {name}.ipynb: its kernel died (out of memory, or killed); rerun to try again "
                    "(trained networks and cached analyses are kept)"
                ) from None
            written.append(target)
    return written


def _execute(source: Path, target: Path, parameters: dict, cwd: Path) -> None:
    """papermill on one notebook, in a worker thread with a kernel this process stops.

    In the main thread nbclient would take over SIGINT (it only shuts the kernel down, and the
    build can go on); from a worker thread it cannot, so Ctrl-C raises ``KeyboardInterrupt``
    here, which kills the kernel and waits for papermill to notice before passing it on.
    """
    import papermill
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    # IPC sockets in a private temporary folder: no TCP port, and no unencrypted-TCP warning.
    with tempfile.TemporaryDirectory(prefix="paperlib-kernel-") as sockets:
        kernel = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=str(Path(sockets) / "kernel"))
        run = functools.partial(
            papermill.execute_notebook,
            str(source),
            str(target),
            parameters=parameters,
            cwd=str(cwd),
            kernel_name="python3",
            progress_bar=False,
            km=kernel,
        )
        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="papermill") as pool:
            future = pool.submit(run)
            try:
                while True:
                    try:
                        return future.result(timeout=0.2)
                    except concurrent.futures.TimeoutError:
                        continue
            except KeyboardInterrupt:
                if kernel.has_kernel and kernel.provisioner is not None:
                    kernel.provisioner.process.kill()
                concurrent.futures.wait([future], timeout=60)
                raise
            finally:
                if future.done() and kernel.has_kernel:
                    run_sync(kernel.shutdown_kernel)(now=True)


@contextmanager
def _quiet_kernels():
    """Kernels inherit ``TQDM_DISABLE``: progress bars belong in the terminal, not in the pages."""
    saved = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = saved


def build_book(profile: str, data_dir: Path, book_dir: Path = BOOK_DIR, names: tuple[str, ...] = NOTEBOOKS) -> Path:
    """Execute every notebook for ``profile`` and build the site; return its ``index.html``."""
    generated = book_dir / "generated"
    shutil.rmtree(generated, ignore_errors=True)  # never publish a notebook from an earlier run
    # relative to the kernels' working directory (the notebooks folder): no path of the build machine in the pages
    parameters = {"profile": profile, "data_dir": os.path.relpath(Path(data_dir).resolve(), NOTEBOOKS_DIR)}
    execute_notebooks(generated, parameters, names)
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jupyter_book), "build", str(book_dir), "-W", "-n", "--keep-going", "--quiet"],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise NotebookError(f"jupyter-book build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return book_dir / "_build" / "html" / "index.html"
