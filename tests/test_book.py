"""The book: a whole tiny-scale build, offline MathJax, a failing notebook named in the error, and what
publishing needs (the repository, launchable notebooks, the install cell)."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
import threadpoolctl

from paperlib.__main__ import main
from paperlib.publishing import book
from paperlib.publishing.book import (
    BOOK_DIR,
    INSTALL_CELL,
    NEEDS,
    NOTEBOOKS,
    NotebookError,
    Repository,
    execute_notebooks,
    publishable,
    repository,
)

TEXT = {"capture_output": True, "text": True, "timeout": 60}


def test_the_whole_book_builds_at_tiny_scale(tiny_book, tiny_data):
    index = tiny_book.index
    # the kernels speak only through the notebooks: no transport warning, no shutdown noise
    kernels = tiny_book.stderr
    assert "[IPKernelApp]" not in kernels and "KeyboardInterrupt" not in kernels, kernels[-2000:]
    html = index.parent
    assert index.is_file()
    tasks = (html / "notebooks" / "tasks.html").read_text()
    for panel in ("1a", "2a", "3a"):
        assert panel in tasks
    for page, panels in {
        "fig1_flipflop": "bcdef",
        "fig2_sine": "bcdef",
        "fig3_cdi": "bcdef",
        "fig4_untrained": "ab",
    }.items():
        text = (html / "notebooks" / f"{page}.html").read_text()
        number = page[3]
        assert all(f"({number}{p})" in text for p in panels), page
        assert len(re.findall(r"<img", text)) >= len(panels), page
    claims = (html / "notebooks" / "claims.html").read_text()
    assert all(f"<td><b>C{i}</b>" in claims for i in range(1, 9)) and "<td><b>D1</b>" in claims  # beyond the paper
    dsa = (html / "notebooks" / "dsa.html").read_text()
    assert "Measured here" in dsa and "glue:text" not in dsa and "DSA distance" in dsa
    assert "permutation p-value" in claims and "Rule:" in claims
    for page in (name for name in NOTEBOOKS if name.startswith(("fig", "appendix"))):
        text = (html / "notebooks" / f"{page}.html").read_text()
        # the page quotes the paper, then says what was measured, with numbers glued from the analysis
        assert "<blockquote>" in text and "Measured here" in text, page
        assert "glue:text" not in text and ("Measured here</strong> on" in text or "Measured here</strong>:" in text), (
            page
        )
    performance = (html / "notebooks" / "performance.html").read_text()
    assert "Measured here" in performance and "glue:text" not in performance
    # neither the pages nor the notebooks offered for download carry a path of the build machine
    machine = (str(tiny_data.resolve().parent), str(index.parents[3]))
    for page in [*html.glob("notebooks/*.html"), *html.glob("_sources/notebooks/*")]:
        text = page.read_text()
        assert not any(path in text for path in machine), page.name
        assert "output stderr" not in text, f"{page.name}: a warning is printed in the page"
    images = re.findall(r'<img[^>]+src="([^"]+\.png)"', tasks)
    assert len(images) >= 3 and all((html / "notebooks" / src).resolve().is_file() for src in images)
    # MathJax is served from the site itself, never from a CDN
    intro = (html / "intro.html").read_text()
    scripts = re.findall(r'<script[^>]+src="([^"]*mathjax[^"]*)"', intro, flags=re.I)
    assert scripts and not any(s.startswith(("http:", "https:", "//")) for s in scripts)
    assert all((html / s).is_file() for s in scripts)


def test_a_failing_notebook_is_named_with_its_error(tmp_path):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "tiny"\ndata_dir = "."', metadata={"tags": ["parameters"]})
    nb.cells = [params, nbformat.v4.new_code_cell('raise ValueError("no population under data_dir")')]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "broken.ipynb")
    with pytest.raises(NotebookError, match=r"broken\.ipynb failed: ValueError: no population under data_dir"):
        execute_notebooks(tmp_path / "out", {"profile": "tiny"}, ("broken",), notebooks_dir=tmp_path)


def write_notebook(path, source: str) -> None:
    """A notebook of a parameters cell and one code cell, ``source``."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell('profile = "tiny"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(source),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_notebooks_run_side_by_side_and_one_that_times_things_runs_alone_after(tmp_path, monkeypatch):
    assert set(book.LONGEST) | set(book.TIMED) <= set(NOTEBOOKS), (
        "the execution order names a notebook that is not a page"
    )
    log = tmp_path / "log.txt"
    for name in ("a", "timed", "b"):
        write_notebook(
            tmp_path / f"{name}.ipynb",
            f"import os, time\nstart = time.time()\ntime.sleep(1.5)\nthreads = os.environ.get('OPENBLAS_NUM_THREADS')\n"
            f"open({str(log)!r}, 'a').write(f'{name} {{start}} {{time.time()}} {{threads}} {{os.getcwd()}}\\n')",
        )
    here = os.getcwd()
    monkeypatch.setattr(book, "TIMED", ("timed",))
    for name in book.BLAS_THREADS:
        monkeypatch.delenv(name, raising=False)
    paths = execute_notebooks(tmp_path / "out", {"profile": "tiny"}, ("a", "timed", "b"), tmp_path, jobs=2)
    assert [p.name for p in paths] == ["a.ipynb", "timed.ipynb", "b.ipynb"] and all(p.is_file() for p in paths)
    runs = {name: rest for name, *rest in map(str.split, log.read_text().splitlines())}
    span = {name: (float(start), float(end)) for name, (start, end, *_) in runs.items()}
    assert max(span["a"][0], span["b"][0]) < min(span["a"][1], span["b"][1]), "a and b ran one after the other"
    assert span["timed"][0] >= max(span["a"][1], span["b"][1]), "the timed notebook shared the machine"
    # side by side, each kernel's BLAS gets its share of the cores; alone, the library's own default
    share = str(max(1, len(os.sched_getaffinity(0)) // 2))
    assert (runs["a"][2], runs["b"][2], runs["timed"][2]) == (share, share, "None")
    # each kernel runs in the notebooks' folder, and the caller's working directory is left alone
    assert {run[3] for run in runs.values()} == {str(tmp_path)} and os.getcwd() == here


def test_notebooks_run_one_per_core_or_one_at_a_time_where_jax_has_a_gpu_plugin(monkeypatch):
    monkeypatch.delenv("JAX_PLATFORMS", raising=False)
    monkeypatch.setattr(book, "entry_points", lambda group: [])
    assert book.default_jobs() == len(os.sched_getaffinity(0))
    # JAX's CUDA plugin (jax-cuda12-pjrt) declares itself under the "jax_plugins" entry points
    monkeypatch.setattr(book, "entry_points", lambda group: ["xla_cuda12"] if group == "jax_plugins" else [])
    assert book.default_jobs() == 1
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    assert book.default_jobs() == len(os.sched_getaffinity(0))


def test_a_failing_notebook_stops_the_kernels_beside_it(tmp_path):
    pid = tmp_path / "pid"
    write_notebook(
        tmp_path / "sleeps.ipynb", f"import os, time\nopen({str(pid)!r}, 'w').write(str(os.getpid()))\ntime.sleep(120)"
    )
    write_notebook(tmp_path / "broken.ipynb", "import time\ntime.sleep(1)\nraise ValueError('no population')")
    start = time.monotonic()
    with pytest.raises(NotebookError, match=r"broken\.ipynb failed: ValueError: no population"):
        execute_notebooks(tmp_path / "out", {"profile": "tiny"}, ("sleeps", "broken"), tmp_path, jobs=2)
    assert time.monotonic() - start < 60
    status = Path(f"/proc/{pid.read_text()}/status")
    assert not status.exists() or "zombie" in status.read_text(), "the sleeping notebook's kernel outlived the call"


def test_notebooks_open_with_the_install_cell_then_the_parameters(root):
    paths = sorted((root / "notebooks").glob("*.ipynb"))
    assert {p.stem for p in paths} == set(NOTEBOOKS), "every notebook is a page of the book"
    for path in paths:
        install, parameters = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"][:2]
        assert install.source == INSTALL_CELL and install.metadata.tags == ["remove-cell"], path.name
        assert "parameters" in parameters.metadata.get("tags", []), path.name
        assert 'profile = "tiny"' in parameters.source, path.name


def test_repository_comes_from_the_ci_environment_or_the_git_remote(tmp_path):
    ci = repository({"GITHUB_REPOSITORY": "lab/rnn-book", "GITHUB_SERVER_URL": "https://github.com"})
    assert ci.url == "https://github.com/lab/rnn-book" and ci.pages_url == "https://lab.github.io/rnn-book/"
    assert repository({"GITHUB_REPOSITORY": "Lab/lab.github.io"}).pages_url == "https://lab.github.io/"
    clone = tmp_path / "clone"
    for remote, expected in [
        ("git@github.com:someone/paperlib.git", "https://github.com/someone/paperlib"),
        ("https://github.com/someone/paperlib", "https://github.com/someone/paperlib"),
        ("https://gitlab.com/someone/paperlib.git", None),
    ]:
        subprocess.run(["git", "init", "-q", str(clone)], check=True)
        subprocess.run(["git", "-C", str(clone), "remote", "add", "origin", remote], check=True)
        found = repository({}, clone)
        assert (found.url if found else None) == expected, remote
        shutil.rmtree(clone)
    assert repository({}, tmp_path) is None  # no remote: no launch buttons


def test_an_executed_notebook_is_made_fit_to_publish(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {
        "input_path": "/home/me/paperlib/notebooks/x.ipynb",
        "output_path": "/home/me/out.ipynb",
    }
    nb.cells = [
        nbformat.v4.new_code_cell(INSTALL_CELL, metadata={"tags": ["remove-cell"]}),
        nbformat.v4.new_code_cell('profile = "small"', metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_markdown_cell("text"),
        nbformat.v4.new_code_cell("plot()", metadata={"tags": ["show-input"]}),
    ]
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    publishable(path, Repository("lab", "rnn-book"))
    out = nbformat.read(path, as_version=4)
    assert "/home/me" not in json.dumps(out.metadata)
    assert 'REPOSITORY, BRANCH = "https://github.com/lab/rnn-book", "book-notebooks"' in out.cells[0].source
    assert out.cells[0].metadata.tags == ["remove-cell"]
    assert out.cells[1].metadata.tags == ["injected-parameters", "hide-input"]
    assert out.cells[3].metadata.tags == ["show-input"]


def test_notebooks_are_committed_without_outputs(root):
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: outputs not stripped"


def test_the_install_cell_does_nothing_where_paperlib_is_installed_and_says_what_to_do_elsewhere(tmp_path):
    here = subprocess.run([sys.executable, "-c", INSTALL_CELL + "\nprint(os.getcwd())"], cwd=tmp_path, **TEXT)
    assert here.returncode == 0 and here.stdout.strip() == str(tmp_path)  # no clone, no chdir
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    missing = subprocess.run([str(bare / "bin" / "python"), "-I", "-c", INSTALL_CELL], cwd=tmp_path, **TEXT)
    assert missing.returncode == 1 and "paperlib is not installed: from a clone, run `make lab`" in missing.stderr


def test_each_notebook_names_the_populations_it_reads(root):
    """``run`` trains what a notebook reads: a literal task it loads is among its NEEDS; one that loads
    every task (a variable) needs all three."""
    for name in NOTEBOOKS:
        code = "\n".join(c.source for c in nbformat.read(root / "notebooks" / f"{name}.ipynb", 4).cells)
        literal = set(re.findall(r'trained_population\(data_dir, profile, "(\w+)"\)', code))
        assert literal <= set(NEEDS[name]), name
        if re.search(r"trained_population\(data_dir, profile, task\)", code):
            assert set(NEEDS[name]) == {"flipflop", "sine", "cdi"}, name
        if not literal and "trained_population" not in code:
            assert NEEDS[name] == (), name


def test_run_executes_one_notebook_into_the_books_pages(tmp_path, tiny_data, capfd):
    """The command line in this process (capfd also sees what the kernel writes to descriptor 2)."""
    book = tmp_path / "book"
    shutil.copytree(BOOK_DIR, book, ignore=shutil.ignore_patterns("_build", "notebooks"))
    assert main(["run", "tasks", "--profile", "tiny", "--data", str(tiny_data), "--book", str(book)]) == 0
    out, err = capfd.readouterr()
    executed = nbformat.read(book / "notebooks" / "tasks.ipynb", 4)
    assert any(c.get("outputs") for c in executed.cells if c.cell_type == "code")
    assert "book --no-execute" in out
    assert "[IPKernelApp]" not in err and "KeyboardInterrupt" not in err
    # the site cannot be rebuilt from one page: the error names what is missing and how to make it
    assert main(["book", "--no-execute", "--book", str(book)]) == 1
    err = capfd.readouterr().err
    assert "lacks the executed notebooks fig1_flipflop" in err and "python -m paperlib run NAME" in err


def test_an_unknown_notebook_is_refused_with_the_list(capsys):
    with pytest.raises(SystemExit) as exit_code:
        main(["run", "fig9_nothing", "--profile", "tiny"])
    err = capsys.readouterr().err
    assert exit_code.value.code == 2 and "invalid choice: 'fig9_nothing'" in err and "fig3_cdi" in err
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "notebooks: tasks, fig1_flipflop" in capsys.readouterr().out


def test_the_site_alone_is_rebuilt_from_executed_notebooks(tiny_book, monkeypatch):
    """In place: nothing changed since the build, so Sphinx rebuilds only what is out of date."""
    book = tiny_book.index.parents[2]
    page = book / "_build" / "html" / "notebooks" / "fig3_cdi.html"
    before = page.read_text()
    monkeypatch.setenv("GITHUB_REPOSITORY", "example-lab/paperlib")
    assert main(["book", "--no-execute", "--book", str(book)]) == 0
    assert page.read_text() == before


def test_the_suites_workers_keep_a_notebooks_cells_together_and_share_the_cores():
    """pytest-xdist runs a file's tests (a notebook's cells) in one worker, the site tests with the
    book tests, and each worker's BLAS thread pool gets its share of the cores."""
    from conftest import BLAS_SHARE, worker_scope

    assert worker_scope("notebooks/fig3_cdi.ipynb::Cell 7") == worker_scope("notebooks/fig3_cdi.ipynb::Cell 1")
    assert worker_scope("tests/test_site.py::test_pages[a]") == worker_scope("tests/test_book.py::test_the_book")
    assert worker_scope("tests/test_train.py::test_a") != worker_scope("tests/test_book.py::test_a")
    if BLAS_SHARE:  # in a worker, the thread counts not set by the user
        assert all(os.environ[name] == str(BLAS_SHARE) for name in book.BLAS_THREADS)
        assert {pool["num_threads"] for pool in threadpoolctl.threadpool_info()} == {BLAS_SHARE}


def test_nbval_kernels_use_ipc_sockets(tmp_path):
    """nbval's kernel manager (patched in conftest) starts kernels over IPC: the cause of the warning is gone."""
    import nbval.kernel

    log = tmp_path / "kernel.err"
    with log.open("w") as stderr:
        km, kc = nbval.kernel.start_new_kernel(kernel_name="python3", stderr=stderr)
    try:
        assert km.transport == "ipc" and km.ip.endswith("/kernel")
        assert "tcp" not in json.dumps(km.get_connection_info(session=False), default=str)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    stderr = log.read_text()
    assert "without encryption" not in stderr and "KeyboardInterrupt" not in stderr, stderr


def test_every_notebook_takes_every_profile(root):
    """``make book PROFILE=<any>`` runs every notebook: a table chosen by ``[profile]`` names them all."""
    from paperlib.training.profiles import PROFILES

    for name in NOTEBOOKS:
        for cell in nbformat.read(root / "notebooks" / f"{name}.ipynb", 4).cells:
            if cell.cell_type == "code" and "[profile]" in cell.source:
                keys = set(re.findall(r'^\s*"(\w+)":', cell.source, re.M))
                assert keys >= set(PROFILES), f"{name}: no entry for {set(PROFILES) - keys}"


def _glued(pages: Path) -> dict[str, str]:
    """Every number a page glues into its text, by name: the recorded value as the page shows it."""
    out = {}
    for path in pages.glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            for output in cell.get("outputs", []):
                name = output.get("metadata", {}).get("scrapbook", {}).get("name")
                if name:
                    out[name] = output["data"]["application/papermill.record/text/plain"]
    return out


def test_every_number_a_page_states_is_the_number_its_claim_reads(tiny_book, tiny_data):
    """The figures' and appendices' glued numbers equal the claims JSON of the same build: a page and
    a verdict state one number, computed once."""
    from paperlib.paper.claims import beyond_the_paper, measure_claims
    from paperlib.paper.render import as_dict, summary

    glued = _glued(tiny_book.index.parents[2] / "notebooks")
    results = measure_claims(tiny_data, "tiny")
    claims = {c["id"]: c for c in map(as_dict, results + beyond_the_paper(tiny_data, "tiny"))}

    def value(claim, *path):
        node = claims[claim]
        for key in path:
            node = None if node is None else node.get(key)
        return node

    expected = {
        "ff_eight": value("C4", "values", "fraction_8_stable_corners"),
        "ff_modal": value("C4", "values", "fraction_modal"),
        "ff_modal_count": value("C4", "values", "modal_count"),
        "ff_lattice": value("C4", "beside", "fraction_lattice"),
        "sine_r": value("C6", "values", "pearson_r"),
        "sine_err": value("C6", "values", "median_relative_error"),
        "sine_single": value("C6", "values", "fraction_single_mild_pair"),
        "sine_modulus": value("C6", "beside", "median_modulus"),
        "sine_cues": value("C6", "beside", "cues"),
        "sine_ok": value("C1", "values", "fraction_learned", "sine"),
        "cdi_integrates": value("C7", "values", "fraction_integrating_both"),
        "cdi_near_vanilla": value("C7", "values", "vanilla_mean_near_one"),
        "cdi_points": value("C7", "beside", "median_line_points"),
        "f4_near": value("C8", "values", "near"),
        "f4_far": value("C8", "values", "far"),
    }
    for task in ("flipflop", "sine", "cdi"):
        short = {"flipflop": "ff", "sine": "sine", "cdi": "cdi"}[task]
        expected[f"c_{task}"] = value("C1", "values", "fraction_learned", task)
        expected[f"dsa_{task}_architecture"] = value("D1", "values", "architecture", task, "p_value")
        expected[f"dsa_{task}_svcca"] = value("D1", "beside", "svcca_architecture_p", task)
        expected[f"e_{task}_cka_architecture"] = value("C3", "values", "architecture", task, "p_value")
        expected[f"e_{task}_cka_activation"] = value("C3", "beside", "activation", task, "p_value")
        for label in ("architecture", "activation"):
            p = value("C2", "values", "tests", task, label, "p_value")
            expected[f"e_{task}_svcca_{label}"] = expected[f"{short}_svcca_{label}_p"] = p
    for label in ("architecture", "activation"):
        expected[f"ff_svcca_{label}_acc"] = value("C2", "values", "tests", "flipflop", label, "accuracy")
        expected[f"ff_svcca_{label}_chance"] = value("C2", "values", "tests", "flipflop", label, "chance")
    c5 = value("C5", "values", "topology", "p_value")
    transport = value("C5", "beside", "every_network_topology", "p_value")
    texts = {
        "ff_topo_p": f"'{c5:.4f}'" if c5 is not None else "'not measurable (too few networks)'",
        "ff_transport_p": f"'{transport:.4f}'" if transport is not None else "'not measurable'",
        "dsa_verdict": repr(claims["D1"]["verdict"]),
        "claims_summary": repr(summary(results)),
    }

    assert set(expected) | set(texts) <= set(glued), sorted(set(expected) | set(texts) - set(glued))
    wrong = {name: (glued[name], text) for name, text in texts.items() if glued[name] != text}
    for name, number in expected.items():  # the claims JSON keeps 4 significant digits
        shown = float(glued[name])
        if not (number is None and np.isnan(shown)) and shown != pytest.approx(number, rel=1e-3, abs=1e-12):
            wrong[name] = (glued[name], number)
    assert not wrong, wrong
