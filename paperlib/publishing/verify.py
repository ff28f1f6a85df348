"""Retrain members of a release from its manifest alone and check they are the released networks.

``verify_release(release, networks=..., sample=K)`` retrains each chosen member by itself (its
configuration, seed and chosen hyperparameters from the manifest; the task and the training stages
from the release's recipe, checked against the profile's), then reports per member whether the
weights are byte-identical to the released ones (SHA-256 of the serialised network), the two
validation losses, and the fixed points of both networks (searched as the book searches them) with
how far apart they lie. A member trains the same alone as in its population: members of a
population never interact (``paperlib.training.sweep.run_pack``).
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import equinox as eqx
import jax
import numpy as np
from tqdm import tqdm

from paperlib.tasks import make_task
from paperlib.training.config import Hyperparameters
from paperlib.training.profiles import get_profile
from paperlib.training.release import read_release, recipe
from paperlib.training.store import COLUMNS, MANIFEST, Population, StoreError, TaskStore, read_table, sha256
from paperlib.training.units import WorkUnit


@dataclasses.dataclass(frozen=True)
class MemberCheck:
    """One retrained member against its released network.

    ``fixed_points`` / ``released_fixed_points``: how many fixed and slow points each network has,
    summed over the task's static input conditions (None for a diverged network: nothing to search);
    ``fixed_point_distance``: over those points, the largest distance from a point of either network
    to the nearest point of the other at the same condition, in units of the released network's
    state scale ``r`` (0 when both sets are the same; inf when only one network has points there).
    The retrained network's validation loss is evaluated alone, the released one's beside its
    population: identical weights give the same loss up to float32 rounding (about 1e-7 relative).
    """

    task: str
    network: str
    identical: bool
    validation_loss: float
    released_validation_loss: float
    status: str
    released_status: str
    seconds: float
    fixed_points: int | None = None
    released_fixed_points: int | None = None
    fixed_point_distance: float | None = None

    @property
    def agrees(self) -> bool:
        """Byte-identical weights, and (where searched) the same fixed points."""
        same_points = self.fixed_point_distance is None or self.fixed_point_distance == 0.0
        return self.identical and same_points and self.fixed_points == self.released_fixed_points


def released_rows(release: Path | str) -> tuple[dict, dict[str, dict]]:
    """``release.json`` (checked) and every released network's manifest row, by ``task/network``."""
    release = Path(release)
    meta = read_release(release)
    rows = {}
    for task in meta["tasks"]:
        for row in read_table(release / task / MANIFEST, COLUMNS):
            rows[f"{task}/{row['network']}"] = row
    return meta, rows


def choose(rows: dict[str, dict], networks: Sequence[str] = (), sample: int = 0, seed: int = 0) -> list[str]:
    """The members to retrain: ``networks`` by name (``task/network``), then ``sample`` more drawn at
    random (with ``seed``) from the rest. An unknown name raises, listing a few that exist."""
    unknown = [n for n in networks if n not in rows]
    if unknown:
        raise StoreError(f"the release has no network {unknown[0]!r}; for example {', '.join(sorted(rows)[:3])}")
    if sample < 0:
        raise StoreError(f"sample must be ≥ 0, got {sample}")
    rest = [n for n in sorted(rows) if n not in networks]
    if sample > len(rest):
        raise StoreError(f"sample {sample} exceeds the {len(rest)} other networks of the release")
    drawn = np.random.default_rng(seed).choice(len(rest), size=sample, replace=False) if sample else []
    return list(networks) + [rest[i] for i in sorted(drawn)]


def unit_of(row: dict) -> WorkUnit:
    """The one-network work unit a manifest row describes."""
    return WorkUnit(
        row["task"], row["architecture"], row["activation"], int(row["units"]), float(row["l2"]), (int(row["seed"]),)
    )


def hyperparameters_of(row: dict) -> Hyperparameters:
    """The optimiser settings a manifest row records (chosen by the search, or the profile's)."""
    return Hyperparameters(
        learning_rate=row["learning_rate"],
        decay_rate=row["decay_rate"],
        momentum=row["momentum"],
        clip=row["clip"],
        l2=row["l2"],
    )


def _load(row: dict, blob: bytes):
    from paperlib.models.rnn import make_rnn

    task = make_task(row["task"])
    skeleton = make_rnn(
        row["architecture"], row["activation"], int(row["units"]), task.n_inputs, task.n_outputs, jax.random.PRNGKey(0)
    )
    return eqx.tree_deserialise_leaves(io.BytesIO(blob), skeleton)


def _fixed_points(profile: str, row: dict, blob: bytes, folder: Path):
    """The network's fixed points per condition, as ``analysis.fixed_points_by_condition`` finds them,
    and its state scale ``r``; cached in ``folder`` (a scratch store of this one network)."""
    from paperlib import analysis

    store = TaskStore(folder, profile, row["task"])
    pop = Population(
        profile,
        get_profile(profile).plan(row["task"]).task,
        store,
        [_load(row, blob)],
        [dict(row, sha256=sha256(blob))],
    )
    return analysis.fixed_points_by_condition(pop)[0], float(analysis.state_scales(pop)[0])


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    """Symmetric largest nearest-point distance between two point sets (rows)."""
    if len(a) == 0 and len(b) == 0:
        return 0.0
    if len(a) == 0 or len(b) == 0:
        return math.inf
    d = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)
    return float(max(d.min(axis=1).max(), d.min(axis=0).max()))


def compare_fixed_points(profile: str, row: dict, retrained: bytes, released: bytes) -> tuple[int, int, float]:
    """Fixed points of both networks: their counts and ``MemberCheck.fixed_point_distance``."""
    with tempfile.TemporaryDirectory() as scratch:
        ours, _ = _fixed_points(profile, row, retrained, Path(scratch) / "retrained")
        theirs, r = _fixed_points(profile, row, released, Path(scratch) / "released")
    distance = max((_distance(np.asarray(a.states), np.asarray(b.states)) for a, b in zip(ours, theirs)), default=0.0)
    return sum(len(f.states) for f in ours), sum(len(f.states) for f in theirs), distance / r


def verify_release(
    release: Path | str,
    networks: Sequence[str] = (),
    sample: int = 0,
    seed: int = 0,
    fixed_points: bool = True,
    progress: bool = True,
) -> list[MemberCheck]:
    """Retrain the chosen members of ``release`` (see ``choose``) and compare each with its released network.

    Everything is checked before any training: the release's files against their checksums, the
    chosen names, and the release's recipe against this code's profile of the same name.
    """
    from paperlib.training.sweep import run_pack

    release = Path(release)
    meta, rows = released_rows(release)
    chosen = choose(rows, networks, sample, seed)
    try:
        profile = get_profile(meta["profile"])
    except ValueError as err:
        raise StoreError(f"{release}: {err}; a release can be verified only by code that has its profile") from None
    for task in sorted({rows[n]["task"] for n in chosen}):
        if meta.get("recipe", {}).get(task) != recipe(profile, task):
            raise StoreError(
                f"the release's {task} recipe differs from this code's {profile.name} profile: it was trained "
                "with another version of the training (see release.json's provenance)"
            )
    weights = {}
    out = []
    for name in tqdm(chosen, desc="verify", unit="net", disable=not progress):
        row = rows[name]
        group = release / row["task"] / f"weights-{row['architecture']}-{row['activation']}.npz"
        if group not in weights:
            with np.load(group, allow_pickle=False) as npz:
                weights[group] = {k: npz[k].tobytes() for k in npz.files}
        released = weights[group][row["network"]]
        start = time.perf_counter()
        [(new_rows, blobs)] = run_pack(profile, [unit_of(row)], [hyperparameters_of(row)], progress=progress)
        seconds = time.perf_counter() - start
        new, blob = new_rows[0], blobs[0]
        check = MemberCheck(
            task=row["task"],
            network=row["network"],
            identical=sha256(blob) == row["sha256"],
            validation_loss=float(new["validation_loss"]),
            released_validation_loss=float(row["validation_loss"]),
            status=new["status"],
            released_status=row["status"],
            seconds=seconds,
        )
        if fixed_points and row["status"] == "ok" and new["status"] == "ok":
            counts = compare_fixed_points(profile.name, row, blob, released)
            check = dataclasses.replace(
                check, fixed_points=counts[0], released_fixed_points=counts[1], fixed_point_distance=counts[2]
            )
        out.append(check)
    return out


@dataclasses.dataclass(frozen=True)
class AnalysisCheck:
    """One analysis shipped with a release against the same analysis recomputed from its networks.

    ``name``: the result file (or fixed-points folder) under ``<task>/analysis/``; ``identical``:
    every array equal (NaN equal to NaN), the Jacobians and eigenvalues of fixed points by their
    digests; False also where the book's analyses did not compute it again (``detail`` says so).
    """

    task: str
    name: str
    identical: bool
    detail: str = ""


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _compare_folder(shards: list[Path], folder: Path) -> tuple[bool, str]:
    """A shipped fixed-points folder (its shards) against the recomputed ``folder``."""
    from paperlib.analysis.shipped import digest, read_shards

    shipped = read_shards(shards)
    for stem, entry in sorted(shipped.items()):
        path = folder / f"{stem}.npz"
        if not path.is_file():
            return False, f"{stem} was not recomputed"
        ours = _arrays(path)
        for name, value in entry.items():
            if name == "order":
                continue
            if name.endswith(".sha256"):
                base = name.removesuffix(".sha256")
                if base not in ours or str(digest(ours[base])) != str(value):
                    return False, f"{stem}: {base} differ"
            elif name not in ours or not _same(ours[name], value):
                return False, f"{stem}: {name} differ"
    return True, f"{len(shipped)} files"


def verify_analyses(
    release: Path | str, tasks: Sequence[str] | None = None, progress: bool = True
) -> list[AnalysisCheck]:
    """Recompute the analyses shipped with ``release`` for its populations of ``tasks`` (default:
    every task it holds) from its networks, in a scratch data directory, as the book computes them
    (``paperlib.paper.claims.book_analyses``), and compare each."""
    from paperlib.analysis.shipped import ANALYSIS, SHARD
    from paperlib.paper.claims import book_analyses
    from paperlib.training.release import unpack_release

    release = Path(release)
    meta = read_release(release)
    tasks = tuple(meta["tasks"]) if tasks is None else tuple(tasks)
    unknown = sorted(set(tasks) - set(meta["tasks"]))
    if unknown or not tasks:
        raise StoreError(f"tasks must be some of the release's {tuple(meta['tasks'])}, got {tasks}")
    shipped = sorted(n for n in meta["files"] if f"/{ANALYSIS}/" in n and n.split("/")[0] in tasks)
    tasks = tuple(t for t in tasks if meta["tasks"][t]["networks"])
    if not shipped:
        return []
    out = []
    with tempfile.TemporaryDirectory() as scratch:
        unpack_release(release, scratch)
        book_analyses(scratch, meta["profile"], tasks, progress=progress)
        folders: dict[tuple[str, str], list[Path]] = {}
        for name in shipped:
            task, _, base = name.split("/")
            shard = SHARD.match(base)
            if shard:
                folders.setdefault((task, shard["folder"]), []).append(release / name)
                continue
            ours = Path(scratch) / meta["profile"] / task / ANALYSIS / base
            if not ours.is_file():
                out.append(AnalysisCheck(task, base, False, "not recomputed by the book's analyses"))
                continue
            a, b = _arrays(release / name), _arrays(ours)
            same = a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
            out.append(AnalysisCheck(task, base, same, f"{len(a)} arrays"))
        for (task, folder), shards in sorted(folders.items()):
            same, detail = _compare_folder(shards, Path(scratch) / meta["profile"] / task / ANALYSIS / folder)
            out.append(AnalysisCheck(task, folder, same, detail))
    return out


def analyses_report(checks: Sequence[AnalysisCheck]) -> str:
    """A plain-text table of ``verify_analyses``'s checks and a summary line."""
    lines = [f"{c.task + '/' + c.name:60} {'identical' if c.identical else 'DIFFER':9} {c.detail}" for c in checks]
    same = sum(c.identical for c in checks)
    lines.append(f"{same} of {len(checks)} shipped analyses are identical to their recomputation")
    return "\n".join(lines)


def report(checks: Sequence[MemberCheck]) -> str:
    """A plain-text table of ``verify_release``'s checks, one line per member, and a summary line."""
    lines = [
        f"{'network':44} {'bytes':9} {'val loss (retrained / released)':33} {'fixed points':14} {'Δ/r':8} {'s':>6}"
    ]
    for c in checks:
        points = "-" if c.fixed_points is None else f"{c.fixed_points} / {c.released_fixed_points}"
        dist = "-" if c.fixed_point_distance is None else f"{c.fixed_point_distance:.2g}"
        loss = f"{c.validation_loss:.4g} / {c.released_validation_loss:.4g}"
        same = "identical" if c.identical else "DIFFER"
        lines.append(f"{c.task + '/' + c.network:44} {same:9} {loss:33} {points:14} {dist:8} {c.seconds:6.0f}")
    agree = sum(c.agrees for c in checks)
    lines.append(f"{agree} of {len(checks)} members agree with the release (identical weights and fixed points)")
    return "\n".join(lines)


def as_json(checks: Sequence[MemberCheck], analyses: Sequence[AnalysisCheck] = ()) -> str:
    """``{"members": [...], "analyses": [...]}``: each check as a JSON object."""
    members = [dict(dataclasses.asdict(c), agrees=c.agrees) for c in checks]
    return json.dumps({"members": members, "analyses": [dataclasses.asdict(a) for a in analyses]}, indent=1)
