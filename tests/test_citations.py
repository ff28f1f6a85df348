"""The specification is inside the project: code, pages and notebooks cite the book's Methods
sections, every section they cite exists, and none of them sends a reader to a file the
repository does not hold."""

import re
import subprocess

import pytest

CITING = ("paperlib", "book", "notebooks", "benchmarks", "README.md", "CONTRIBUTING.md")
# ``:ref:`label``` in docstrings and comments, ``{ref}`label``` in pages; ``text <label>`` names one too
REF = re.compile(r"(?::ref:|\{ref\})`(?:[^`<]*<)?([^`<>]+)>?`")
LABEL = re.compile(r"^\(([A-Za-z0-9_-]+)\)=\s*$", re.MULTILINE)
OUTSIDE = re.compile(r"SPEC\.md|DESIGN\.md|\bshared/|training-measurements")


def _tracked(root, *paths: str) -> dict[str, str]:
    names = subprocess.run(
        ["git", "ls-files", "--", *paths], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split()
    texts = {}
    for name in names:
        try:
            texts[name] = (root / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue  # a binary file, or one deleted in the working tree
    return texts


@pytest.fixture(scope="module")
def citing(root) -> dict[str, str]:
    texts = _tracked(root, *CITING)
    if not texts:
        pytest.fail("no tracked files: the suite runs from a git checkout")
    return texts


def test_every_cited_section_exists(citing):
    labels = {m for name, text in citing.items() if name.startswith("book/") for m in LABEL.findall(text)}
    cited = {(name, label) for name, text in citing.items() for label in REF.findall(text)}
    assert cited, "nothing cites a section: the pattern is wrong"
    missing = sorted(f"{name}: {label}" for name, label in cited if label not in labels)
    assert not missing, "cited sections that no page defines:\n" + "\n".join(missing)


def test_nothing_cites_a_file_outside_the_repository(citing):
    found = [
        f"{name}:{n}: {line.strip()}"
        for name, text in citing.items()
        for n, line in enumerate(text.splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert not found, "cite the book's Methods sections instead:\n" + "\n".join(found)
