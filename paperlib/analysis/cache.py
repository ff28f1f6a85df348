"""Where analyses of a population are stored: computed once, then loaded.

Every result is written to ``DIR/<profile>/<task>/analysis/<name>-<key>.npz``; ``key`` hashes the
networks' weight checksums and the analysis parameters (``cache_path``), so a rerun loads it, and
a retrained network or a changed parameter gives a new key.
"""

from __future__ import annotations

import hashlib
import io
import json
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


def cached(path: Path, compute) -> dict[str, np.ndarray]:
    """The arrays stored at ``path``, or ``compute()``'s (a dict of arrays), stored there first.

    One process computes a missing result while any other that needs it waits, then loads it.
    """
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
