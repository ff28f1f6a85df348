"""A population's cached analyses shipped inside its release, so a book of it recomputes only what is quick.

``pack_analyses(data, profile, release, paths)`` adds to a release folder (``paperlib.training.release``)
the analyses a book of it reads, cached under ``data/<profile>/<task>/analysis/``, except those that
are large and quick to recompute (``RECOMPUTED``): each result file as it is stored, and each folder of fixed points
(``fixed_points-<key>/``) as shards of one ``.npz`` without the Jacobians and their eigenvalues,
which are most of its bytes. ``unpack_analyses(release, data)`` writes them back into the cache,
recomputing those Jacobians from the points and the released networks; the recomputed arrays must hash
to what was shipped, or nothing of that folder is written (a warning says so, and the analyses that
read it compute it again). Cache keys hash the networks' checksums
(``paperlib.analysis.cache``), so shipped results are read only for the very networks they came from.
``python -m paperlib verify RELEASE --analyses`` recomputes them all and compares
(``paperlib.publishing.verify``).
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from paperlib._io import atomic_write
from paperlib.dynamics.fixed_points import relinearise
from paperlib.training.release import add_to_release, read_release
from paperlib.training.store import StoreError, population

ANALYSIS = "analysis"
#: cached results left out of a release: the probe states (tens of MB, seconds to recompute) and the
#: CDI line points (tens of MB, about a minute)
RECOMPUTED = ("probe_states", "line_points")
SHARD_BYTES = 4 * 2**20  # uncompressed bytes per shard of a fixed-points folder (a shard holds at least one file)
ARRAY_OVERHEAD = 512  # bytes an array adds to an .npz besides its data (zip and .npy headers, its name)
DERIVED = ("jacobians", "eigenvalues")  # recomputed on unpacking, shipped as SHA-256 digests
SEPARATOR = "::"  # shard keys: "<file stem>::<array name>"
SHARD = re.compile(r"^(?P<folder>.+)\.(?P<index>\d+)\.npz$")


def digest(array: np.ndarray) -> np.ndarray:
    return np.asarray(hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest())


def _kind(name: str) -> str:
    return name.split("-")[0]


def _shards(folder: Path) -> list[bytes]:
    """One fixed-points folder as compressed ``.npz`` shards: every file's arrays, its Jacobians and
    eigenvalues replaced by their digests (the other arrays as stored)."""
    shards, arrays, size = [], {}, 0
    for path in sorted(folder.glob("*.npz")):
        with np.load(path, allow_pickle=False) as data:
            stored = {k: data[k] for k in data.files}
        linearised = "jacobians" in stored and stored["jacobians"].size > 0
        entry = {"order": np.asarray(list(stored))}
        for name, value in stored.items():
            if linearised and name in DERIVED:
                entry[f"{name}.sha256"] = digest(value)
            else:
                entry[name] = value
        nbytes = sum(v.nbytes + ARRAY_OVERHEAD for v in entry.values())
        if arrays and size + nbytes > SHARD_BYTES:
            shards.append(arrays)
            arrays, size = {}, 0
        arrays |= {f"{path.stem}{SEPARATOR}{k}": v for k, v in entry.items()}
        size += nbytes
    if arrays:
        shards.append(arrays)
    out = []
    for shard in shards:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **shard)
        out.append(buffer.getvalue())
    return out


def pack_analyses(data: Path | str, profile: str, release: Path | str, paths: Iterable[Path]) -> dict[str, int]:
    """Add the cached analyses ``paths`` of ``data/<profile>`` (those a book reads:
    ``paperlib.analysis.cache.recording`` around ``paperlib.paper.claims.book_analyses``) to the
    release folder ``release``, already packed with that population's networks; any analyses it
    held before are replaced. Returns how many result files were shipped per task."""
    data, release = Path(data), Path(release)
    meta = read_release(release)
    chosen = {Path(p).resolve() for p in paths}
    files: dict[str, bytes] = {}
    counts = {}
    for task in meta["tasks"]:
        folder = data / profile / task / ANALYSIS
        counts[task] = 0
        for path in sorted(p for p in chosen if p.parent == folder.resolve() and _kind(p.name) not in RECOMPUTED):
            if path.is_file() and path.suffix == ".npz":
                with np.load(path, allow_pickle=False) as stored:
                    buffer = io.BytesIO()
                    np.savez_compressed(buffer, **{k: stored[k] for k in stored.files})
                files[f"{task}/{ANALYSIS}/{path.name}"] = buffer.getvalue()
                counts[task] += 1
            elif path.is_dir():
                for i, blob in enumerate(_shards(path)):
                    files[f"{task}/{ANALYSIS}/{path.name}.{i}.npz"] = blob
                counts[task] += len(list(path.glob("*.npz")))
            else:
                raise StoreError(f"{path} is not a cached analysis (a .npz file or a folder of fixed points)")
    meta = add_to_release(release, files, prefix=tuple(f"{task}/{ANALYSIS}/" for task in meta["tasks"]))
    for task in meta["tasks"]:  # what an earlier packing shipped and this one does not
        for path in (release / task / ANALYSIS).glob("*"):
            if f"{task}/{ANALYSIS}/{path.name}" not in meta["files"]:
                path.unlink()
    return counts


def read_shards(shards: Iterable[Path]) -> dict[str, dict[str, np.ndarray]]:
    """The shards of one shipped fixed-points folder, by file stem: each file's shipped arrays."""
    entries: dict[str, dict[str, np.ndarray]] = {}
    for shard in shards:
        with np.load(shard, allow_pickle=False) as data:
            for key in data.files:
                stem, _, name = key.rpartition(SEPARATOR)
                entries.setdefault(stem, {})[name] = data[key]
    return entries


def _restore_folder(shards: list[Path], folder: Path, models: dict) -> int:
    """Write the files of one shipped fixed-points folder into ``folder`` (those missing), their
    Jacobians and eigenvalues recomputed and checked against the shipped digests; how many written."""
    entries = read_shards(shards)
    written = {}
    for stem, entry in entries.items():
        path = folder / f"{stem}.npz"
        if path.exists():
            continue
        if not {"order", "states", "x_star"} <= entry.keys():
            raise StoreError(f"shipped fixed points {folder.name}/{stem} are incomplete: {sorted(entry)}")
        order = [str(k) for k in entry.pop("order")]
        if "jacobians.sha256" in entry:
            network = stem.rsplit("-c", 1)[0]
            if network not in models:
                raise StoreError(f"shipped fixed points {folder.name}/{stem} name a network the release lacks")
            entry["jacobians"], entry["eigenvalues"] = relinearise(
                models[network].step, entry["x_star"], entry["states"]
            )
            for name in DERIVED:
                if str(digest(entry[name])) != str(entry.pop(f"{name}.sha256")):
                    raise StoreError(
                        f"the {name} recomputed at the shipped fixed points {folder.name}/{stem} differ from "
                        "those the release was made with (another JAX, XLA or LAPACK build?): the folder is "
                        "not restored, and the analyses that read it recompute it"
                    )
        buffer = io.BytesIO()
        np.savez(buffer, **{k: entry[k] for k in order})
        written[path] = buffer.getvalue()
    for path, blob in written.items():  # only once every file of the folder has checked out
        atomic_write(path, blob)
    return len(written)


def unpack_analyses(release: Path | str, data: Path | str) -> dict[str, int]:
    """Restore the analyses shipped in ``release`` into ``data``'s cache (its networks unpacked
    first: ``paperlib.training.release.unpack_release``); per task, how many result files were written.
    A result already cached is left as it is."""
    release, data = Path(release), Path(data)
    meta = read_release(release)
    written = {}
    for task in meta["tasks"]:
        names = sorted(n for n in meta["files"] if n.startswith(f"{task}/{ANALYSIS}/"))
        target = data / meta["profile"] / task / ANALYSIS
        written[task] = 0
        folders: dict[str, list[Path]] = {}
        for name in names:
            base = name.rsplit("/", 1)[1]
            shard = SHARD.match(base)
            if shard:
                folders.setdefault(shard["folder"], []).append(release / name)
            elif not (target / base).exists():
                atomic_write(target / base, (release / name).read_bytes())
                written[task] += 1
        if folders:
            pop = population(data, meta["profile"], task)
            models = dict(zip(pop.names, pop.models))
            for folder, shards in folders.items():
                (target / folder).mkdir(parents=True, exist_ok=True)
                try:
                    written[task] += _restore_folder(shards, target / folder, models)
                except StoreError as err:  # the analyses that read them recompute them instead
                    warnings.warn(str(err), stacklevel=2)
    return written
