"""File writes shared by every module: never a partial file under a real name, and one writer at a time."""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a flushed temporary file and a rename.

    Whatever stops the write (a full disk, Ctrl-C, an error) removes the temporary and leaves
    ``path`` as it was; an ``OSError`` names ``path``.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise OSError(err.errno, err.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError) and not err.filename:
            raise OSError(err.errno, err.strerror, str(path)) from None
        raise


@contextmanager
def computing(path: Path) -> Iterator[None]:
    """Hold ``path``'s lock (the file ``.<name>.lock`` beside it) while computing what goes there.

    Another process computing the same result waits for this one, then finds it written instead
    of computing it again (notebooks executed side by side share analyses). Where no lock file can
    be made (a read-only folder) nothing is held, and the write that follows names the problem.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path.parent / f".{path.name}.lock", "a")
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
