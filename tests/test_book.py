"""The book: a whole tiny-scale build, offline MathJax, and a failing notebook named in the error."""

import re
import shutil
from pathlib import Path

import nbformat
import pytest

from paperlib.book import BOOK_DIR, NotebookError, build_book, execute_notebooks


def test_the_whole_book_builds_at_tiny_scale(tmp_path):
    book = tmp_path / "book"
    shutil.copytree(BOOK_DIR, book, ignore=shutil.ignore_patterns("_build", "generated"))
    index = build_book("tiny", tmp_path / "data", book)
    html = index.parent
    assert index.is_file()
    tasks = (html / "generated" / "tasks.html").read_text()
    for panel in ("1a", "2a", "3a"):
        assert panel in tasks
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


def test_notebooks_have_a_parameters_cell():
    for path in sorted(Path(BOOK_DIR.parent, "notebooks").glob("*.ipynb")):
        first_code = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        assert "parameters" in first_code.metadata.get("tags", []), path.name
        assert 'profile = "tiny"' in first_code.source, path.name
