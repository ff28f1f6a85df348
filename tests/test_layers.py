"""The floors of ``paperlib`` (CONTRIBUTING.md): each module imports only from its own floor and
the floors it stands on, read from the source of every module (imports inside functions too)."""

import ast
import subprocess
import sys

import pytest

# floor: (its modules, the floors it may import from besides itself)
FLOORS = {
    "ground": ({"__init__", "_checks", "_io", "config", "cells", "tasks", "rnn", "interop", "provenance"}, set()),
    "math": ({"similarity", "embedding", "fixed_points", "linear", "topology", "dsa"}, {"ground"}),
    "training": ({"objective", "train"}, {"ground"}),
    "store": ({"profiles", "store", "release"}, {"ground"}),
    "sweep": ({"sweep"}, {"ground", "training", "store"}),
    "analysis": ({"analysis", "figures", "claims", "plots"}, {"ground", "math", "store"}),
    "publishing": ({"book", "verify", "__main__"}, {"ground", "math", "training", "store", "sweep", "analysis"}),
}
FLOOR_OF = {module: floor for floor, (modules, _) in FLOORS.items() for module in modules}


def paperlib_imports(path) -> set[str]:
    """The paperlib modules a source file imports, anywhere in it."""
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
    return {p.stem: p for p in sorted((root / "paperlib").glob("*.py"))}


def test_every_module_has_a_floor(modules):
    assert set(modules) == set(FLOOR_OF), "place a new module on a floor here and in CONTRIBUTING.md"


def test_every_module_imports_only_from_its_floor_and_the_floors_below(modules):
    wrong = []
    for name, path in modules.items():
        floor = FLOOR_OF[name]
        allowed = FLOORS[floor][1] | {floor}
        wrong += [
            f"{name} ({floor}) imports {other} ({FLOOR_OF[other]})"
            for other in sorted(paperlib_imports(path))
            if FLOOR_OF[other] not in allowed
        ]
    assert not wrong, "\n".join(wrong)


def test_training_loads_no_analysis_module():
    code = (
        "import sys, paperlib.train, paperlib.sweep; "
        "print(sorted(m for m in sys.modules if m.split('.')[-1] in "
        "{'similarity', 'fixed_points', 'topology', 'analysis', 'figures', 'claims'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_hyperparameters_are_built_by_name_everywhere(modules):
    """Four floats of similar size in a fixed order are easy to swap: every ``Hyperparameters(...)``
    in the package names its arguments."""
    positional = []
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Hyperparameters" and node.args:
                positional.append(f"{name}:{node.lineno}")
    assert not positional, f"Hyperparameters called with positional arguments at {positional}"
