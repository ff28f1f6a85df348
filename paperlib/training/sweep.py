"""Populations at every scale: hyperparameter search and resumable sweeps over a profile.

- The sweep is cut into work units (``paperlib.training.profiles.WorkUnit``), one per configuration, and
  the missing units are packed by shape: every configuration of one architecture × activation ×
  size trains as one population (its seeds, or for the search its trials, all members at once).
- A unit's networks are stored together when its pack finishes; rerunning skips every unit already
  stored and intact, so an interrupted sweep (Ctrl-C, kill -9) resumes where it stopped. A pack
  still training saves its state every few minutes (``<task>/checkpoints/``), and the rerun goes on
  from there: the weights are bit for bit those of a run never stopped.
- Packs run in this process, or on a Dask cluster (``train(..., client=...)``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import numpy as np
from tqdm import tqdm

from paperlib.models.cells import CELLS
from paperlib.tasks import Task
from paperlib.training.config import Hyperparameters
from paperlib.training.objective import errors
from paperlib.training.profiles import Profile, get_profile
from paperlib.training.provenance import provenance
from paperlib.training.store import Population, StoreError, TaskStore, exclusive, population, serialise
from paperlib.training.train import train_population
from paperlib.training.units import WorkUnit, consecutive_groups, pack

VALIDATION_SEED = 7_777_777  # the held-out batch every network is validated on


def _failure(during_training: str, validation_loss: float) -> str:
    """Why a network failed: what training recorded, else a non-finite validation loss, else ""."""
    return during_training or ("" if math.isfinite(validation_loss) else "nan-validation")


def _row(
    unit: WorkUnit, seed: int, hp: Hyperparameters, n_iterations: int, validation: float, failure: str, diverged_at: int
) -> dict:
    """The columns a network's manifest row and a search trial's row share."""
    return dict(
        task=unit.task,
        architecture=unit.architecture,
        activation=unit.activation,
        units=unit.units,
        l2=unit.l2,
        seed=seed,
        learning_rate=hp.learning_rate,
        decay_rate=hp.decay_rate,
        momentum=hp.momentum,
        clip=hp.clip,
        n_iterations=n_iterations,
        validation_loss=float(validation),
        status="diverged" if failure else "ok",
        diverged_at=int(diverged_at),
        failure=failure,
    )


def members_that_fit(task: Task, architecture: str, n_units: int, batch_size: int, device=None) -> int | None:
    """How many networks of this shape one population may hold on ``device`` (None: no limit known).

    An estimate, not a measurement: the backward pass keeps about (gates + 2) floats per unit, time
    step and trial of every member, counted 3 times over for XLA's temporaries, against 60% of the
    device's memory limit. Hosts report no limit (None): a CPU population is not split.
    """
    device = device or jax.local_devices()[0]
    stats = device.memory_stats() if device.platform != "cpu" else None
    if not stats or "bytes_limit" not in stats:
        return None
    gates = len(CELLS[architecture].BLOCKS)
    per_member = 3 * 4 * batch_size * task.n_time * n_units * (gates + 2)
    return max(1, int(0.6 * stats["bytes_limit"] // per_member))


def run_pack(
    profile: Profile,
    units: Sequence[WorkUnit],
    hyperparameters: Sequence[Hyperparameters],
    max_members: int | None = None,
    progress: bool = False,
    checkpoints: Path | str | None = None,
) -> list[tuple[list[dict], list[bytes]]]:
    """Train work units of one shape as one population through every stage; per unit, its manifest
    rows and serialised networks.

    Each unit's seeds train with that unit's ``hyperparameters`` (its L2 and optimiser settings);
    members never interact, so every network is the one its unit trained alone would give. A pack
    larger than ``max_members`` (default: what fits the device, ``members_that_fit``) is trained
    in consecutive populations. With ``checkpoints`` (a folder) each population saves its training
    state there as it goes and continues from what an interrupted run saved (``checkpoint_path``).
    """
    units = _one_shape(units)
    if len(hyperparameters) != len(units):
        raise ValueError("a pack needs one Hyperparameters per work unit")
    plan = profile.plan(units[0].task)
    stages = plan.stages_for(units[0].architecture, units[0].activation)
    if max_members is None:
        config = stages[0].config
        max_members = members_that_fit(plan.task, units[0].architecture, units[0].units, config.batch_size)
    out = []
    for group in consecutive_groups([len(u.seeds) for u in units], max_members):
        members = [units[i] for i in group]
        out += _train_together(members, [hyperparameters[i] for i in group], plan, stages, progress, checkpoints)
    return out


def _one_shape(units: Sequence[WorkUnit]) -> tuple[WorkUnit, ...]:
    units = tuple(units)
    if len({u.shape for u in units}) != 1:
        raise ValueError("a pack needs work units of one shape")
    return units


def checkpoint_path(checkpoints: Path | str | None, units: Sequence[WorkUnit], what: str) -> Path | None:
    """Where the population of ``units`` saves its ``what`` (``"search"``, ``"stage1"``, ...) state.

    Named after the first unit (and how many more share the population); what is saved records
    everything the training depends on, so a file of another population is never continued.
    """
    if checkpoints is None:
        return None
    more = f"+{len(units) - 1}" if len(units) > 1 else ""
    return Path(checkpoints) / f"{units[0].configuration}{more}-{what}.npz"


def discard_checkpoints(checkpoints: Path | str, units: Sequence[WorkUnit]) -> None:
    """Remove the saved states of populations that began with one of ``units`` (they are stored)."""
    for unit in units:
        for pattern in (f"{unit.configuration}-*.npz", f"{unit.configuration}+*.npz"):
            for path in Path(checkpoints).glob(pattern):
                path.unlink(missing_ok=True)


def _train_shape(units, task, seeds, hyperparameters, config, what, progress, initial=None, checkpoints=None):
    """``train_population`` of ``seeds`` in the shape of ``units``, its progress bar named after them."""
    first = units[0]
    name = first.name if len(units) == 1 else f"{first.name.rsplit('-l2_', 1)[0]} ×{len(units)} L2"
    return train_population(
        task,
        first.architecture,
        first.activation,
        first.units,
        seeds,
        hyperparameters,
        config,
        initial=initial,
        progress=f"{name} {what}" if progress else False,
        checkpoint=checkpoint_path(checkpoints, units, what.replace(" ", "")),
    )


def _train_together(units, hyperparameters, plan, stages, progress, checkpoints=None):
    seeds = [s for u in units for s in u.seeds]
    owner = [i for i, u in enumerate(units) for _ in u.seeds]
    n = len(seeds)
    models, retries, offset, seconds = None, np.zeros(n, int), 0, 0.0
    failures, diverged_at = [""] * n, np.full(n, -1)  # the first failure of each network, in any stage
    for i, stage in enumerate(stages):
        hps = [
            dataclasses.replace(hp, learning_rate=hp.learning_rate * stage.learning_rate_scale)
            for hp in (hyperparameters[k] for k in owner)
        ]
        what = f"stage {i + 1}"
        result = _train_shape(units, stage.task, seeds, hps, stage.config, what, progress, models, checkpoints)
        models, retries, seconds = result.models, retries + result.retries, seconds + result.seconds
        for j, failure in enumerate(result.failures):
            if failure and not failures[j]:
                failures[j], diverged_at[j] = failure, offset + int(result.diverged_at[j])
        offset += stage.config.n_iterations
    _, validation = errors(models, plan.task, jax.random.PRNGKey(VALIDATION_SEED))
    out, j = [], 0
    for unit, hp in zip(units, hyperparameters):
        rows, blobs = [], []
        for seed, network in zip(unit.seeds, unit.network_ids):
            failure = _failure(failures[j], float(validation[j]))
            rows.append(
                dict(
                    network=network,
                    **_row(unit, seed, hp, offset, float(validation[j]), failure, int(diverged_at[j])),
                    optimizer=stages[-1].config.optimizer,
                    final_loss=float(result.final_loss[j]) if not failures[j] else math.nan,
                    retries=int(retries[j]),
                    train_seconds=seconds,
                    population=n,
                )
            )
            blobs.append(serialise(result.member(j)))
            j += 1
        out.append((rows, blobs))
    return out


def run_unit(profile: Profile, unit: WorkUnit, hyperparameters: Hyperparameters, progress: bool = False):
    """Train one work unit through every stage; return its manifest rows and serialised networks."""
    return run_pack(profile, [unit], [hyperparameters], progress=progress)[0]


def run_search_pack(
    profile: Profile,
    units: Sequence[WorkUnit],
    max_members: int | None = None,
    progress: bool = False,
    checkpoints: Path | str | None = None,
) -> list[list[dict]]:
    """Random search for work units of one shape: every trial of every unit a member of one population.

    Each unit draws its own trials (``SearchSpace.sample`` of its ``search_seed`` and L2) and trains
    them on its first seed; per unit, its search rows. ``checkpoints`` as for ``run_pack``.
    """
    units = _one_shape(units)
    plan = profile.plan(units[0].task)
    stage = plan.stages[0]
    config = dataclasses.replace(stage.config, n_iterations=plan.search.n_iterations)
    trials = [plan.search.sample(u.search_seed, u.l2) for u in units]
    if max_members is None:
        max_members = members_that_fit(stage.task, units[0].architecture, units[0].units, config.batch_size)
    out = []
    for group in consecutive_groups([len(t) for t in trials], max_members):
        seeds = [units[k].seeds[0] for k in group for _ in trials[k]]
        hps = [hp for k in group for hp in trials[k]]
        members = [units[k] for k in group]
        result = _train_shape(members, stage.task, seeds, hps, config, "search", progress, checkpoints=checkpoints)
        _, validation = errors(result.models, stage.task, jax.random.PRNGKey(VALIDATION_SEED))
        j = 0
        for k in group:
            unit, rows = units[k], []
            for i, hp in enumerate(trials[k]):
                failure = _failure(result.failures[j], float(validation[j]))
                loss, diverged_at = float(validation[j]), int(result.diverged_at[j])
                row = _row(unit, unit.seeds[0], hp, config.n_iterations, loss, failure, diverged_at)
                rows.append(dict(config=unit.name, trial=i, **row, train_seconds=result.seconds, population=len(seeds)))
                j += 1
            out.append(rows)
    return out


def run_search(profile: Profile, unit: WorkUnit, progress: bool = False) -> list[dict]:
    """Random search for one configuration: every trial a member of one population."""
    return run_search_pack(profile, [unit], progress=progress)[0]


def best_trial(search_rows: Sequence[dict], unit: WorkUnit) -> Hyperparameters:
    """The setting with the lowest validation loss among a configuration's finished trials."""
    rows = [r for r in search_rows if r["config"] == unit.name and r["status"] == "ok"]
    if not rows:
        raise RuntimeError(f"every search trial of {unit.name} diverged; widen the search space")
    best = min(rows, key=lambda r: r["validation_loss"])
    return Hyperparameters(
        learning_rate=best["learning_rate"],
        decay_rate=best["decay_rate"],
        momentum=best["momentum"],
        clip=best["clip"],
        l2=unit.l2,
    )


@dataclasses.dataclass(frozen=True)
class TaskSummary:
    """What ``train`` did for one task: networks already ``stored``, ``trained`` now, and of those how
    many ``diverged``."""

    stored: int
    trained: int = 0
    diverged: int = 0


def _local_map(fn: Callable, jobs: Sequence[tuple]):
    for job in jobs:
        yield job, fn(*job, progress=True)


def _on_worker(fn: Callable, *job):
    """Run ``fn(*job)`` in a Dask worker, with its host CPU split into one JAX device per core first."""
    import paperlib

    paperlib.use_host_devices()
    return fn(*job)


def _dask_map(client):
    from dask.distributed import as_completed

    def run(fn: Callable, jobs: Sequence[tuple]):
        futures = {client.submit(_on_worker, fn, *job, pure=False): job for job in jobs}
        for future in as_completed(futures):
            yield futures[future], future.result()

    return run


def train(
    tasks: Sequence[str],
    profile: str | Profile,
    data: str,
    *,
    client=None,
    repair: bool = False,
    progress: bool = True,
    max_members: int | None = None,
) -> dict[str, TaskSummary]:
    """Train (or finish training) the populations of ``tasks`` at ``profile`` under ``data``.

    **Arguments:**

    - ``tasks``: task names (``paperlib.training.profiles.TASK_NAMES``).
    - ``profile``: a profile name or a ``Profile``.
    - ``data``: the data directory; populations go to ``data/<profile>/<task>/``.
    - ``client``: a ``dask.distributed.Client`` to run the work on a cluster (default: here).
    - ``repair``: retrain networks whose weights file is missing or damaged (else: an error).
    - ``progress``: show a progress bar over the work units.
    - ``max_members``: the most networks one population holds (default: what fits the device's
      memory, ``members_that_fit``; no limit on CPUs).

    **Returns:** per task, a ``TaskSummary``. The work units still missing are packed by shape
    (``paperlib.training.profiles.pack``): every L2 value of an architecture × activation × size trains as
    one population, and its searches as another, which is what fills a GPU; the networks are the
    same as unit by unit. Only missing work is done: stored, intact networks are never trained
    again, and a pack interrupted while training goes on from its last checkpoint (saved every
    few minutes under ``data/<profile>/<task>/checkpoints/``), so an interrupted run resumes where
    it stopped with the weights of a run never stopped. Every row records the commit and lock file
    of the directory the command runs in (``paperlib.training.provenance``).
    """
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    for task in tasks:
        prof.plan(task)  # every name checked before any work starts
    mapper = _dask_map(client) if client is not None else _local_map
    made_by = provenance()
    summary = {}
    with exclusive(data, prof.name):
        stores = {task: TaskStore(data, prof.name, task) for task in tasks}
        for store in stores.values():
            store.clear_temporaries()
            damaged = store.damaged()
            if damaged and not repair:
                names = ", ".join(str(store.weights_path(r)) for r in damaged[:3])
                raise StoreError(f"{len(damaged)} stored networks are damaged ({names}); rerun with --repair")
            store.search_rows()  # a damaged search table is reported before any work

        pending = {}
        for task, store in stores.items():
            done = store.finished()
            units = [u for u in prof.work_units(task) if not all(n in done for n in u.network_ids)]
            pending[task] = units
            summary[task] = TaskSummary(stored=len(done))

        total = sum(len(u) for u in pending.values())
        with tqdm(total=total, desc=f"train {prof.name}", unit="unit", disable=not progress) as bar:
            for task, units in pending.items():
                store, plan = stores[task], prof.plan(task)
                if plan.search is not None:
                    searched = {r["config"] for r in store.search_rows()}
                    todo = [u for u in units if u.name not in searched]
                    n_trials = plan.search.n_trials
                    packs = pack(todo, max_members, members=lambda u: n_trials)
                    search = functools.partial(run_search_pack, checkpoints=store.checkpoints_path)
                    for (_, packed, _), per_unit in mapper(search, [(prof, p, max_members) for p in packs]):
                        for rows in per_unit:
                            store.add_search([dict(r, **made_by) for r in rows])
                        discard_checkpoints(store.checkpoints_path, packed)
                        bar.set_postfix_str(f"searched {per_unit[-1][0]['config']}")
                    search_rows = store.search_rows()
                    chosen = {u.name: best_trial(search_rows, u) for u in units}
                else:
                    chosen = {u.name: plan.hyperparameters(u.architecture, u.activation, u.l2) for u in units}
                jobs = [(prof, p, tuple(chosen[u.name] for u in p), max_members) for p in pack(units, max_members)]
                trainer = functools.partial(run_pack, checkpoints=store.checkpoints_path)
                for (_, packed, _, _), per_unit in mapper(trainer, jobs):
                    for unit, (rows, blobs) in zip(packed, per_unit):
                        store.add([dict(r, **made_by) for r in rows], blobs)
                        summary[task] = dataclasses.replace(
                            summary[task],
                            trained=summary[task].trained + len(rows),
                            diverged=summary[task].diverged + sum(r["status"] != "ok" for r in rows),
                        )
                        bar.set_postfix_str(unit.name)
                        bar.update(1)
                    discard_checkpoints(store.checkpoints_path, packed)
    return summary


def trained_population(data: str, profile: str, task: str) -> Population:
    """The usable networks of ``task`` at ``profile`` under ``data``, training what is missing first."""
    train([task], profile, data, progress=False)
    return population(data, profile, task)
