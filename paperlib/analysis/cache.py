"""Where analyses of a population are stored: computed once, then loaded.

Every result is written to ``DIR/<profile>/<task>/analysis/<name>-<key>.npz``; ``key`` hashes the
networks' weight checksums and the analysis parameters (``cache_path``), so a rerun loads it, and
a retrained network or a changed parameter gives a new key.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from paperlib._io import atomic_write, computing
from paperlib.training.store import Population

ANALYSIS_VERSION = 2  # bump when an analysis changes what it computes


def cache_path(pop: Population, name: str, **params) -> Path:
    """Where the analysis ``name`` of ``pop`` with ``params`` is cached (see the module docstring)."""
    blob = json.dumps(
        {"v": ANALYSIS_VERSION, "sha": [r["sha256"] for r in pop.rows], **params}, sort_keys=True, default=str
    )
    return pop.store.path / "analysis" / f"{name}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}.npz"


_READ: contextvars.ContextVar[set[Path] | None] = contextvars.ContextVar("read", default=None)


@contextlib.contextmanager
def recording() -> Iterator[set[Path]]:
    """Collect the paths of every cached result read or computed inside the block (e.g. to ship
    exactly the analyses a book reads: ``paperlib.analysis.shipped``)."""
    paths: set[Path] = set()
    token = _READ.set(paths)
    try:
        yield paths
    finally:
        _READ.reset(token)


def record(path: Path) -> None:
    """Note ``path`` as read, inside ``recording()``."""
    paths = _READ.get()
    if paths is not None:
        paths.add(Path(path).resolve())


def cached(path: Path, compute) -> dict[str, np.ndarray]:
    """The arrays stored at ``path``, or ``compute()``'s (a dict of arrays), stored there first.

    One process computes a missing result while any other that needs it waits, then loads it.
    """
    record(path)
    if not path.exists():
        with computing(path):
            if not path.exists():
                result = compute()
                buffer = io.BytesIO()
                np.savez(buffer, **result)
                atomic_write(path, buffer.getvalue())
                return result
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}
