"""Where a trained network came from: the commit and the lock file of the run that trained it.

Read from the working directory the command runs in (the clone it was started from), never from
where the package is installed: an installed package has no commit.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

LOCK = "requirements.lock"


def commit(cwd: Path | str = ".") -> str:
    """``git rev-parse HEAD`` of ``cwd`` (with ``-dirty`` if tracked files differ from it), else ""."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True)
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return ""
    return head.stdout.strip() + ("-dirty" if status.stdout.strip() else "")


def lock_sha256(cwd: Path | str = ".") -> str:
    """SHA-256 of ``cwd``'s ``requirements.lock`` (the pinned packages), else "" if it has none."""
    path = Path(cwd) / LOCK
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def provenance(cwd: Path | str = ".") -> dict[str, str]:
    """The manifest columns ``commit`` and ``lock_sha256`` of a run started in ``cwd``."""
    return {"commit": commit(cwd), "lock_sha256": lock_sha256(cwd)}
