"""The book: a whole tiny-scale build, offline MathJax, and a failing notebook named in the error."""

import re
import shutil

import nbformat
import pytest

from paperlib.book import BOOK_DIR, NOTEBOOKS, NotebookError, build_book, execute_notebooks


def test_the_whole_book_builds_at_tiny_scale(tmp_path, tiny_data, capfd):
    book = tmp_path / "book"
    shutil.copytree(BOOK_DIR, book, ignore=shutil.ignore_patterns("_build", "generated"))
    index = build_book("tiny", tiny_data, book)
    # the kernels speak only through the notebooks: no transport warning, no shutdown noise
    kernels = capfd.readouterr().err
    assert "[IPKernelApp]" not in kernels and "KeyboardInterrupt" not in kernels, kernels[-2000:]
    html = index.parent
    assert index.is_file()
    tasks = (html / "generated" / "tasks.html").read_text()
    for panel in ("1a", "2a", "3a"):
        assert panel in tasks
    for page, panels in {
        "fig1_flipflop": "bcdef",
        "fig2_sine": "bcdef",
        "fig3_cdi": "bcdef",
        "fig4_untrained": "ab",
    }.items():
        text = (html / "generated" / f"{page}.html").read_text()
        number = page[3]
        assert all(f"({number}{p})" in text for p in panels), page
        assert len(re.findall(r"<img", text)) >= len(panels), page
    claims = (html / "generated" / "claims.html").read_text()
    assert all(f"<td><b>C{i}</b>" in claims for i in range(1, 9))
    assert "permutation p-value" in claims and "Rule:" in claims
    for page in (name for name in NOTEBOOKS if name.startswith(("fig", "appendix"))):
        text = (html / "generated" / f"{page}.html").read_text()
        # the page quotes the paper, then says what was measured, with numbers glued from the analysis
        assert "<blockquote>" in text and "Measured here" in text, page
        assert "glue:text" not in text and ("Measured here</strong> on" in text or "Measured here</strong>:" in text), (
            page
        )
    performance = (html / "generated" / "performance.html").read_text()
    assert "Measured here" in performance and "glue:text" not in performance
    for page in html.glob("generated/*.html"):  # papermill's parameters carry no path of the build machine
        text = page.read_text()
        assert str(tiny_data.resolve()) not in text and str(tmp_path) not in text, page.name
    images = re.findall(r'<img[^>]+src="([^"]+\.png)"', tasks)
    assert len(images) >= 3 and all((html / "generated" / src).resolve().is_file() for src in images)
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


def test_notebooks_have_a_parameters_cell(root):
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        first_code = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        assert "parameters" in first_code.metadata.get("tags", []), path.name
        assert 'profile = "tiny"' in first_code.source, path.name


def test_notebooks_are_committed_without_outputs(root):
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: outputs not stripped"
