"""The layers of ``paperlib``, stated once: each subpackage (or top-level module) imports only from
its own floor and the floors below it, read from the source of every file (imports inside
functions too). The package docstring and CONTRIBUTING.md point here."""

import ast
import subprocess
import sys

import pytest

# floor: (its subpackages and top-level modules, the floors it may import from besides itself), bottom up
FLOORS = {
    "private": ({"__init__", "_checks", "_io"}, set()),
    "ground": ({"models", "tasks"}, {"private"}),
    "math": ({"dynamics", "similarity"}, {"private"}),
    "training": ({"training"}, {"private", "ground"}),
    "analysis": ({"analysis"}, {"private", "ground", "math", "training"}),
    "paper": ({"paper"}, {"private", "ground", "math", "training", "analysis"}),
    "publishing": ({"publishing", "__main__"}, {"private", "ground", "math", "training", "analysis", "paper"}),
}
FLOOR_OF = {part: floor for floor, (parts, _) in FLOORS.items() for part in parts}


def paperlib_imports(path) -> set[str]:
    """The top-level parts of paperlib (subpackages, modules) a source file imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "paperlib" and len(parts) > 1 and parts[1] in FLOOR_OF:
                found.add(parts[1])
    return found


@pytest.fixture(scope="module")
def modules(root):
    """Every source file of the package, by the top-level part it belongs to."""
    package = root / "paperlib"
    return {
        path.relative_to(package).as_posix(): (path.relative_to(package).parts[0].removesuffix(".py"), path)
        for path in sorted(package.rglob("*.py"))
    }


def test_every_part_has_a_floor(modules):
    parts = {part for part, _ in modules.values()}
    assert parts == set(FLOOR_OF), "place a new subpackage on a floor here"


def test_every_file_imports_only_from_its_floor_and_the_floors_below(modules):
    wrong = []
    for name, (part, path) in modules.items():
        floor = FLOOR_OF[part]
        allowed = FLOORS[floor][1] | {floor}
        wrong += [
            f"{name} ({floor}) imports paperlib.{other} ({FLOOR_OF[other]})"
            for other in sorted(paperlib_imports(path))
            if FLOOR_OF[other] not in allowed
        ]
    assert not wrong, "\n".join(wrong)


def test_a_broken_floor_is_caught(tmp_path):
    """The rule itself: a math module importing the training floor is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("from paperlib.training.store import population\n")
    assert paperlib_imports(bad) == {"training"}
    assert FLOOR_OF["training"] not in FLOORS["math"][1]


def test_training_loads_no_analysis_module():
    code = (
        "import sys, paperlib.training.sweep; "
        "print(sorted(m for m in sys.modules if m.startswith(('paperlib.dynamics', 'paperlib.similarity', "
        "'paperlib.analysis', 'paperlib.paper', 'paperlib.publishing'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_hyperparameters_are_built_by_name_everywhere(modules):
    """Four floats of similar size in a fixed order are easy to swap: every ``Hyperparameters(...)``
    in the package names its arguments."""
    positional = []
    for name, (_, path) in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Hyperparameters" and node.args:
                positional.append(f"{name}:{node.lineno}")
    assert not positional, f"Hyperparameters called with positional arguments at {positional}"


def test_no_class_declares_a_field_twice(modules):
    """A dataclass field declared twice silently keeps the last declaration (``TrainConfig`` once
    declared ``matmul`` and ``unroll`` twice): every class body annotates each name once."""
    repeated = []
    for name, (_, path) in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                fields = [
                    s.target.id for s in node.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)
                ]
                repeated += [f"{name}:{node.name}.{f}" for f in set(fields) if fields.count(f) > 1]
    assert not repeated, f"fields declared twice: {repeated}"
