"""A trained population as a compact, checksummed folder that lives in git, and back.

``pack_release(data, profile, out)`` writes ``out/release.json`` (the profile, every file with its
SHA-256, how many networks per task, the training's provenance) and per task its ``manifest.csv``
and ``search.csv`` as stored, with the weights in compressed ``weights-<architecture>-<activation>.npz``
files: each network's exact ``.eqx`` bytes under its network id, so the manifest's checksums still
hold. ``unpack_release(release, data)`` restores the store the trainer and the analyses read, and
never overwrites an intact network; ``train`` then finds those networks finished.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import numpy as np

from paperlib._io import atomic_write
from paperlib.training.profiles import PROFILES, Profile, get_profile
from paperlib.training.store import (
    COLUMNS,
    MANIFEST,
    SEARCH,
    SEARCH_COLUMNS,
    StoreError,
    TaskStore,
    encode_table,
    read_table,
    sha256,
    write_table,
)

RELEASE = "release.json"
MAX_FILE_BYTES = 5 * 2**20  # every file stays small enough for git
PROVENANCE = "PROVENANCE"  # data/<profile>/PROVENANCE: what the training run was started from


def recipe(profile: Profile, task: str) -> dict:
    """How ``profile`` trains ``task``, as plain JSON: each stage's task class and parameters, its
    training settings and rate factor; the random search; the optimiser overrides; the groups left out.

    With a manifest row (configuration, seed, chosen hyperparameters) this is everything a network's
    training reads; ``release.json`` records it per task, and ``paperlib.publishing.verify`` checks it against
    the profile before retraining.
    """
    plan = profile.plan(task)
    value = {
        "stages": [
            {
                "task": type(s.task).__name__,
                "task_parameters": dataclasses.asdict(s.task),
                "config": dataclasses.asdict(s.config),
                "learning_rate_scale": s.learning_rate_scale,
            }
            for s in plan.stages
        ],
        "search": dataclasses.asdict(plan.search) if plan.search is not None else None,
        "optimizers": dict(plan.optimizers),
        "exclude": [list(x) for x in plan.exclude],
    }
    return json.loads(json.dumps(value))


def pack_release(data: Path | str, profile: str, out: Path | str) -> dict:
    """Write the finished networks of ``data/<profile>`` (every task found) into the folder ``out``.

    Only networks whose weights match their checksum go in (diverged ones included, marked so in
    the manifest); a weights file that would exceed ``MAX_FILE_BYTES`` raises before anything is
    written. Returns the ``release.json`` contents.
    """
    data, out = Path(data), Path(out)
    tasks = sorted(p.name for p in (data / profile).iterdir() if (p / MANIFEST).is_file() or (p / SEARCH).is_file())
    if not tasks:
        raise StoreError(f"no trained population under {data / profile}")
    files: dict[str, bytes] = {}
    counts = {}
    for task in tasks:
        store = TaskStore(data, profile, task)
        rows = list(store.finished().values())  # in the manifest's order
        groups: dict[str, dict[str, np.ndarray]] = {}
        for row in rows:
            group = groups.setdefault(f"{task}/weights-{row['architecture']}-{row['activation']}.npz", {})
            group[row["network"]] = np.frombuffer(store.verify(row), np.uint8)
        for name, arrays in groups.items():
            buffer = io.BytesIO()
            np.savez_compressed(buffer, **arrays)
            files[name] = buffer.getvalue()
        files[f"{task}/{MANIFEST}"] = encode_table(COLUMNS, rows)
        files[f"{task}/{SEARCH}"] = encode_table(SEARCH_COLUMNS, store.search_rows())
        counts[task] = {"networks": len(rows), "diverged": sum(r["status"] != "ok" for r in rows)}
    too_big = {n: len(b) for n, b in files.items() if len(b) > MAX_FILE_BYTES}
    if too_big:
        raise StoreError(f"release files over {MAX_FILE_BYTES} bytes: {too_big}")
    provenance = data / profile / PROVENANCE
    meta = {
        "profile": profile,
        "tasks": counts,
        "provenance": provenance.read_text() if provenance.is_file() else "",
        # a profile made in code (not in PROFILES) has no recipe to record: its release cannot be verified
        "recipe": {task: recipe(get_profile(profile), task) for task in tasks} if profile in PROFILES else {},
        "files": {name: sha256(blob) for name, blob in sorted(files.items())},
    }
    for name, blob in files.items():
        atomic_write(out / name, blob)
    atomic_write(out / RELEASE, (json.dumps(meta, indent=1) + "\n").encode())
    return meta


def add_to_release(release: Path | str, files: dict[str, bytes], prefix: tuple[str, ...] = ()) -> dict:
    """Write ``files`` (name: bytes) into the release folder and list them, with their SHA-256, in its
    ``release.json``, whose listed names starting with ``prefix`` are dropped first (what they replace).
    A file over ``MAX_FILE_BYTES`` raises before anything is written. Returns the new ``release.json``."""
    release = Path(release)
    meta = read_release(release)
    too_big = {n: len(b) for n, b in files.items() if len(b) > MAX_FILE_BYTES}
    if too_big:
        raise StoreError(f"release files over {MAX_FILE_BYTES} bytes: {too_big}")
    kept = {n: d for n, d in meta["files"].items() if not (prefix and n.startswith(prefix))}
    meta["files"] = dict(sorted((kept | {name: sha256(blob) for name, blob in files.items()}).items()))
    for name, blob in files.items():
        atomic_write(release / name, blob)
    atomic_write(release / RELEASE, (json.dumps(meta, indent=1) + "\n").encode())
    return meta


def read_release(release: Path | str) -> dict:
    """``release.json`` of a release folder, every file it lists checked against its SHA-256."""
    release = Path(release)
    try:
        meta = json.loads((release / RELEASE).read_text())
        files = meta["files"]
    except (OSError, ValueError, KeyError) as err:
        raise StoreError(f"{release / RELEASE} is missing or damaged: {err}") from None
    for name, digest in files.items():
        path = release / name
        if not path.is_file() or sha256(path.read_bytes()) != digest:
            raise StoreError(f"release file {path} is missing or does not match its checksum in {RELEASE}")
    return meta


def unpack_release(release: Path | str, data: Path | str) -> dict[str, int]:
    """Restore a release into ``data/<profile>/<task>/``; per task, how many networks were written.

    Checked first (``read_release``); a network already stored intact is left as it is, and the
    manifest keeps the rows of any stored network the release lacks (one still to be trained).
    """
    release, data = Path(release), Path(data)
    meta = read_release(release)
    written = {}
    for task in meta["tasks"]:
        store = TaskStore(data, meta["profile"], task)
        rows = read_table(release / task / MANIFEST, COLUMNS)
        done = store.finished()
        written[task] = 0
        for name in sorted({n for n in meta["files"] if n.startswith(f"{task}/weights-")}):
            with np.load(release / name, allow_pickle=False) as weights:
                for network in weights.files:
                    if network not in done:
                        atomic_write(store.path / "weights" / f"{network}.eqx", weights[network].tobytes())
                        written[task] += 1
        released = {r["network"] for r in rows}
        kept = [r for r in store.rows() if r["network"] not in released]
        write_table(store.manifest_path, COLUMNS, kept + rows)
        searched = read_table(release / task / SEARCH, SEARCH_COLUMNS)
        trials = {(r["config"], r["trial"]) for r in searched}
        others = [r for r in store.search_rows() if (r["config"], r["trial"]) not in trials]
        write_table(store.search_path, SEARCH_COLUMNS, others + searched)
        damaged = store.damaged()
        if damaged:
            names = ", ".join(r["network"] for r in damaged[:3])
            raise StoreError(f"networks of {store.path} do not match their checksums after unpacking: {names}")
    provenance = data / meta["profile"] / PROVENANCE
    if meta["provenance"] and not provenance.is_file():
        atomic_write(provenance, meta["provenance"].encode())
    return written
