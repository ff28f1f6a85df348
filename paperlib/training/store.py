"""On-disk layout of trained populations, written so that a crash never leaves a partial file.

- ``DIR/<profile>/<task>/manifest.csv``: one row per network (configuration, hyperparameters,
  losses, status "ok" or "diverged" with the iteration and reason, roll-backs, weights file and
  SHA-256, wall time, commit and lock file); ``weights/<network>.eqx``: its
  ``eqx.tree_serialise_leaves`` file; ``checkpoints/``: the state of populations still training.
- Every file is written to a temporary name, flushed and renamed; a weights file before the row
  naming it: a network is finished exactly when its row exists and its file matches the checksum.
- ``population(data, profile, task)``: the usable networks of a task as a ``Population``.
"""

from __future__ import annotations

import csv
import dataclasses
import fcntl
import hashlib
import io
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import equinox as eqx
import jax
import numpy as np

from paperlib._io import atomic_write
from paperlib.models.rnn import RNN, make_rnn
from paperlib.tasks import Task, make_task
from paperlib.training.profiles import get_profile

MANIFEST = "manifest.csv"
SEARCH = "search.csv"
_CONFIGURATION = ("task", "architecture", "activation", "units", "l2", "seed")
_OPTIMISER = ("learning_rate", "decay_rate", "momentum", "clip", "n_iterations")
# manifest.csv: one row per trained network
COLUMNS = ("network", *_CONFIGURATION, "optimizer", *_OPTIMISER, "final_loss", "validation_loss") + (
    "status",
    "diverged_at",
    "failure",
    "retries",
    "weights",
    "sha256",
    "train_seconds",
    "population",
    "commit",
    "lock_sha256",
)
# search.csv: one row per trial of a configuration's random search
SEARCH_COLUMNS = (
    "config",
    "trial",
    *_CONFIGURATION,
    *_OPTIMISER,
    "validation_loss",
    "status",
    "diverged_at",
    "failure",
    "train_seconds",
    "population",
    "commit",
    "lock_sha256",
)
# Columns added after tables were first written, with the value an older table's rows get: such a
# table is read as if it had them, and written back with them.
# ``train_seconds`` is the wall time of the population the network trained in (every stage,
# compilation included) and ``population`` its number of members; ``commit`` and ``lock_sha256``
# say what trained it (``paperlib.training.provenance``). Unknown for rows older than these columns.
_ADDED = {"failure": "", "retries": "0", "train_seconds": "nan", "population": "0", "commit": "", "lock_sha256": ""}
_INT = {"units", "seed", "n_iterations", "diverged_at", "retries", "trial", "population"}
_FLOAT = {"l2", "learning_rate", "decay_rate", "momentum", "clip", "final_loss", "validation_loss", "train_seconds"}


class StoreError(RuntimeError):
    """A stored file is missing, unreadable or does not match its checksum; the message names it."""


def serialise(model: RNN) -> bytes:
    buffer = io.BytesIO()
    eqx.tree_serialise_leaves(buffer, model)
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_table(path: Path, columns: Sequence[str]) -> list[dict]:
    """Rows of a CSV table with typed values; a damaged table raises ``StoreError`` naming it."""
    if not path.exists():
        return []
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            found = tuple(reader.fieldnames or ())
            missing = {c: _ADDED[c] for c in columns if c not in found and c in _ADDED}
            if found != tuple(c for c in columns if c not in missing):
                raise ValueError(f"columns {reader.fieldnames} are not {list(columns)}")
            return [_typed({**row, **missing}) for row in reader]
    except (ValueError, TypeError, csv.Error, UnicodeDecodeError) as err:
        raise StoreError(f"{path} is damaged: {err}") from None


def encode_table(columns: Sequence[str], rows: Sequence[dict]) -> bytes:
    """The CSV bytes of ``rows`` under ``columns`` (what ``read_table`` reads back)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: row[k] for k in columns} for row in rows)
    return buffer.getvalue().encode()


def write_table(path: Path, columns: Sequence[str], rows: Sequence[dict]) -> None:
    atomic_write(path, encode_table(columns, rows))


def _typed(row: dict) -> dict:
    out = {}
    for key, value in row.items():
        if key is None or value is None:
            raise ValueError("a row has the wrong number of fields")
        out[key] = int(value) if key in _INT else float(value) if key in _FLOAT else value
    return out


class TaskStore:
    """The stored population of one task at one profile: ``root/<profile>/<task>/``."""

    def __init__(self, root: Path | str, profile: str, task: str):
        self.root = Path(root)
        self.path = self.root / profile / task
        self.task = task

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @property
    def search_path(self) -> Path:
        return self.path / SEARCH

    @property
    def checkpoints_path(self) -> Path:
        """Where populations still training save their state (``paperlib.training.sweep.checkpoint_path``)."""
        return self.path / "checkpoints"

    def rows(self) -> list[dict]:
        return read_table(self.manifest_path, COLUMNS)

    def search_rows(self) -> list[dict]:
        return read_table(self.search_path, SEARCH_COLUMNS)

    def weights_path(self, row: dict) -> Path:
        return self.path / row["weights"]

    def verify(self, row: dict) -> bytes:
        """The bytes of a network's weights file, checked against its manifest checksum."""
        path = self.weights_path(row)
        try:
            data = path.read_bytes()
        except OSError as err:
            raise StoreError(f"weights file {path} cannot be read: {err.strerror}") from None
        if sha256(data) != row["sha256"]:
            raise StoreError(f"weights file {path} does not match its checksum in {self.manifest_path}")
        return data

    def finished(self) -> dict[str, dict]:
        """Rows whose weights file exists and matches its checksum, by network id."""
        done = {}
        for row in self.rows():
            try:
                self.verify(row)
            except StoreError:
                continue
            done[row["network"]] = row
        return done

    def clear_temporaries(self) -> int:
        """Remove temporaries left by an interrupted write (call only while holding the lock)."""
        leftovers = list(self.path.rglob(".*.tmp")) if self.path.exists() else []
        for path in leftovers:
            path.unlink(missing_ok=True)
        return len(leftovers)

    def damaged(self) -> list[dict]:
        """Rows whose weights file is missing or does not match its checksum."""
        bad = []
        for row in self.rows():
            try:
                self.verify(row)
            except StoreError:
                bad.append(row)
        return bad

    def add(self, rows: Sequence[dict], blobs: Sequence[bytes]) -> None:
        """Store finished networks (rows and ``serialise``-d weights): files first, then the manifest."""
        new = []
        for row, data in zip(rows, blobs, strict=True):
            row = dict(row, weights=f"weights/{row['network']}.eqx", sha256=sha256(data))
            atomic_write(self.path / row["weights"], data)
            new.append(row)
        replaced = {r["network"] for r in new}
        kept = [r for r in self.rows() if r["network"] not in replaced]
        write_table(self.manifest_path, COLUMNS, kept + new)

    def add_search(self, rows: Sequence[dict]) -> None:
        replaced = {(r["config"], r["trial"]) for r in rows}
        kept = [r for r in self.search_rows() if (r["config"], r["trial"]) not in replaced]
        write_table(self.search_path, SEARCH_COLUMNS, kept + list(rows))

    def load(self, row: dict) -> RNN:
        """One stored network, checked against its checksum."""
        data = self.verify(row)
        task = make_task(row["task"])
        skeleton = make_rnn(
            row["architecture"],
            row["activation"],
            row["units"],
            task.n_inputs,
            task.n_outputs,
            jax.random.PRNGKey(0),
        )
        try:
            return eqx.tree_deserialise_leaves(io.BytesIO(data), skeleton)
        except Exception as err:  # noqa: BLE001  (any decoding failure is a damaged file)
            raise StoreError(f"weights file {self.weights_path(row)} cannot be decoded: {err}") from None


def load_population(path: Path | str, *, status: str | None = "ok") -> tuple[list[RNN], list[dict]]:
    """Models and manifest rows of a stored task population (``DIR/<profile>/<task>``).

    ``status="ok"`` (default) leaves out networks that diverged; ``None`` returns every row.
    A missing or damaged manifest or weights file raises ``StoreError`` naming the file.
    """
    path = Path(path)
    store = TaskStore(path.parent.parent, path.parent.name, path.name)
    if not store.manifest_path.is_file():
        raise StoreError(f"no population at {path}: {store.manifest_path} does not exist")
    rows = [r for r in store.rows() if status is None or r["status"] == status]
    return [store.load(r) for r in rows], rows


@dataclasses.dataclass
class Population:
    """The usable (not diverged) networks of one task at one profile, as ``population`` loads them.

    ``models[i]`` is the network described by ``rows[i]`` (its manifest row: configuration,
    hyperparameters, losses, checksum); ``task`` is the task it was validated on.
    """

    profile: str
    task: Task
    store: TaskStore
    models: list[RNN]
    rows: list[dict]

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> np.ndarray:
        """One manifest column over the networks, e.g. ``pop.column("architecture")``."""
        return np.asarray([r[name] for r in self.rows])

    @property
    def names(self) -> list[str]:
        return [r["network"] for r in self.rows]


def population(data: Path | str, profile: str, task: str) -> Population:
    """The stored, usable networks of ``task`` at ``profile`` under the data directory ``data``.

    A missing or damaged manifest or weights file raises ``StoreError`` naming the file; train
    first with ``python -m paperlib train`` (or ``paperlib.training.sweep.trained_population``).
    """
    store = TaskStore(data, profile, task)
    models, rows = load_population(store.path)
    return Population(profile, get_profile(profile).plan(task).task, store, models, rows)


@contextmanager
def exclusive(root: Path | str, profile: str) -> Iterator[None]:
    """Hold the training lock of ``root/<profile>``; a second holder is refused with a clear message."""
    path = Path(root) / profile
    try:
        path.mkdir(parents=True, exist_ok=True)
        lock = open(path / ".lock", "a+")
    except OSError as err:
        raise StoreError(f"data directory {root} cannot be written: {err.strerror or err}") from None
    with lock as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise StoreError(
                f"{path} is being written by {holder}; wait for it to finish (one training command per data directory)"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"process {os.getpid()}")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
