"""Scaffolding shared by the tests: the project root, the command line, the mini profile, stored populations.

- The suite runs with one single-threaded JAX device per core, as the command line sets up.
- ``tiny_data`` is ``data/``, the notebooks' default: trained once per checkout, shared with nbval.
- ``stored_cdi`` is a private copy of the tiny CDI population, for tests that damage or lock it;
  ``unfinished_cdi`` a copy of it with three work units left to train.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import paperlib
from paperlib.profiles import PROFILES, TASK_NAMES, Profile
from paperlib.store import COLUMNS, TaskStore, write_table
from paperlib.sweep import train

paperlib.use_host_devices()

ROOT = Path(__file__).resolve().parent.parent


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
    """``data/`` holding every task's tiny population (trained here if missing)."""
    train(TASK_NAMES, "tiny", str(ROOT / "data"), progress=False)
    return ROOT / "data"


@pytest.fixture(scope="session")
def stored_cdi(tmp_path_factory, tiny_data) -> Path:
    """A data directory of its own holding the tiny CDI population (a copy of ``tiny_data``'s)."""
    path = tmp_path_factory.mktemp("stored")
    shutil.copytree(tiny_data / "tiny" / "cdi", path / "tiny" / "cdi", ignore=shutil.ignore_patterns("analysis"))
    return path


@pytest.fixture
def unfinished_cdi(stored_cdi, tmp_path) -> Path:
    """A copy of ``stored_cdi`` whose last three work units are unfinished (their rows removed from
    the manifest): ``train --task cdi --profile tiny`` there has 6 of its 16 networks to train."""
    shutil.copytree(stored_cdi, tmp_path, dirs_exist_ok=True)
    store = TaskStore(tmp_path, "tiny", "cdi")
    write_table(store.manifest_path, COLUMNS, store.rows()[:-6])
    return tmp_path
