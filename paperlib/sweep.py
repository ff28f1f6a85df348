"""Populations at every scale: hyperparameter search and resumable sweeps over a profile.

- The sweep is cut into work units (``paperlib.profiles.WorkUnit``), one per configuration with
  all its seeds (or, for the search, all its trials) as members of one population.
- A unit's networks are stored together when it finishes; rerunning skips every unit already
  stored and intact, so an interrupted sweep (Ctrl-C, kill -9) resumes where it stopped.
- Units run in this process, or on a Dask cluster (``train(..., client=...)``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import jax
import numpy as np
from tqdm import tqdm

from paperlib.config import Hyperparameters
from paperlib.objective import errors
from paperlib.profiles import Profile, WorkUnit, get_profile
from paperlib.store import Population, StoreError, TaskStore, exclusive, population, serialise
from paperlib.train import train_population

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


def run_unit(profile: Profile, unit: WorkUnit, hyperparameters: Hyperparameters, progress: bool = False):
    """Train one work unit through every stage; return its manifest rows and serialised networks."""
    plan = profile.plan(unit.task)
    n = len(unit.seeds)
    models, retries, offset = None, np.zeros(n, int), 0
    failures, diverged_at = [""] * n, np.full(n, -1)  # the first failure of each network, in any stage
    stages = plan.stages_for(unit.architecture, unit.activation)
    for i, stage in enumerate(stages):
        hp = dataclasses.replace(
            hyperparameters, learning_rate=hyperparameters.learning_rate * stage.learning_rate_scale
        )
        result = train_population(
            stage.task,
            unit.architecture,
            unit.activation,
            unit.units,
            unit.seeds,
            hp,
            stage.config,
            initial=models,
            progress=f"{unit.name} stage {i + 1}" if progress else False,
        )
        models, retries = result.models, retries + result.retries
        for j, failure in enumerate(result.failures):
            if failure and not failures[j]:
                failures[j], diverged_at[j] = failure, offset + int(result.diverged_at[j])
        offset += stage.config.n_iterations
    _, validation = errors(models, plan.task, jax.random.PRNGKey(VALIDATION_SEED))
    rows = []
    for i, (seed, name) in enumerate(zip(unit.seeds, unit.network_ids)):
        failure = _failure(failures[i], validation[i])
        rows.append(
            dict(
                network=name,
                **_row(unit, seed, hyperparameters, offset, validation[i], failure, diverged_at[i]),
                optimizer=stages[-1].config.optimizer,
                final_loss=float(result.final_loss[i]) if not failures[i] else math.nan,
                retries=int(retries[i]),
            )
        )
    return rows, [serialise(result.member(i)) for i in range(len(unit.seeds))]


def run_search(profile: Profile, unit: WorkUnit, progress: bool = False) -> list[dict]:
    """Random search for one configuration: every trial a member of one population."""
    plan = profile.plan(unit.task)
    stage = plan.stages[0]
    trials = plan.search.sample(unit.search_seed, unit.l2)
    seed = unit.seeds[0]
    config = dataclasses.replace(stage.config, n_iterations=plan.search.n_iterations)
    result = train_population(
        stage.task,
        unit.architecture,
        unit.activation,
        unit.units,
        [seed] * len(trials),
        trials,
        config,
        progress=f"{unit.name} search" if progress else False,
    )
    _, validation = errors(result.models, stage.task, jax.random.PRNGKey(VALIDATION_SEED))
    rows = []
    for i, hp in enumerate(trials):
        failure = _failure(result.failures[i], validation[i])
        row = _row(unit, seed, hp, config.n_iterations, validation[i], failure, result.diverged_at[i])
        rows.append(dict(config=unit.name, trial=i, **row))
    return rows


def best_trial(search_rows: Sequence[dict], unit: WorkUnit) -> Hyperparameters:
    """The setting with the lowest validation loss among a configuration's finished trials."""
    rows = [r for r in search_rows if r["config"] == unit.name and r["status"] == "ok"]
    if not rows:
        raise RuntimeError(f"every search trial of {unit.name} diverged; widen the search space")
    best = min(rows, key=lambda r: r["validation_loss"])
    return Hyperparameters(best["learning_rate"], best["decay_rate"], best["momentum"], best["clip"], unit.l2)


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
) -> dict[str, TaskSummary]:
    """Train (or finish training) the populations of ``tasks`` at ``profile`` under ``data``.

    **Arguments:**

    - ``tasks``: task names (``paperlib.profiles.TASK_NAMES``).
    - ``profile``: a profile name or a ``Profile``.
    - ``data``: the data directory; populations go to ``data/<profile>/<task>/``.
    - ``client``: a ``dask.distributed.Client`` to run the work units on a cluster (default: here).
    - ``repair``: retrain networks whose weights file is missing or damaged (else: an error).
    - ``progress``: show a progress bar over the work units.

    **Returns:** per task, a ``TaskSummary``. Only missing work is done: stored, intact networks
    are never trained again, so an interrupted run resumes where it stopped.
    """
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    for task in tasks:
        prof.plan(task)  # every name checked before any work starts
    mapper = _dask_map(client) if client is not None else _local_map
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
                    todo = [(prof, u) for u in units if u.name not in searched]
                    for _, rows in mapper(run_search, todo):
                        store.add_search(rows)
                        bar.set_postfix_str(f"searched {rows[0]['config']}")
                    search_rows = store.search_rows()
                    jobs = [(prof, u, best_trial(search_rows, u)) for u in units]
                else:
                    jobs = [(prof, u, plan.hyperparameters(u.architecture, u.activation, u.l2)) for u in units]
                for (_, unit, _), (rows, blobs) in mapper(run_unit, jobs):
                    store.add(rows, blobs)
                    summary[task] = dataclasses.replace(
                        summary[task],
                        trained=summary[task].trained + len(rows),
                        diverged=summary[task].diverged + sum(r["status"] != "ok" for r in rows),
                    )
                    bar.set_postfix_str(unit.name)
                    bar.update(1)
    return summary


def trained_population(data: str, profile: str, task: str) -> Population:
    """The usable networks of ``task`` at ``profile`` under ``data``, training what is missing first."""
    train([task], profile, data, progress=False)
    return population(data, profile, task)
