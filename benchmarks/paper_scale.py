"""What the paper profile costs on this machine: measured training rates, extrapolated to its grid.

For every task and architecture at the paper's largest size (256 units, tanh), and for GRU flip-flop
at every size, this times ``train_population`` of the paper's 30 seeds for ``--iterations``
iterations (batch 64, the paper's T), after a first run of the same length that compiles it.
The paper profile's time per task is then the sum over its work units of

    (20,000 training iterations + 2,000 search iterations) × seconds per iteration of a 30-network population,

with a unit's seconds per iteration taken from its task and architecture at 256 units, scaled by
GRU flip-flop's ratio between its size and 256, and relu timed as tanh. The search's 16 trials
run as one population of 16, taken here at the 30-network rate (an upper bound where populations
run in parallel, as on a GPU). ``--sizes`` also times GRU-256 flip-flop populations of other
sizes: how many networks one program trains at once for the cost of one.

Before timing, on an accelerator, the vmapped population (``vectorise=True``, the default there) is
checked against members run one after another: the same losses to float32 rounding.

    python benchmarks/paper_scale.py [--iterations 500] [--sizes 1 30 480] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import numpy as np

import paperlib
from paperlib.config import Hyperparameters, TrainConfig
from paperlib.profiles import get_profile
from paperlib.tasks import FlipFlop
from paperlib.train import train_population

HP = Hyperparameters(learning_rate=0.01, decay_rate=0.5, momentum=0.9, clip=1.0, l2=1e-4)
PAPER = get_profile("paper")
SEEDS = len(PAPER.seeds)
TRAIN_ITERATIONS = 20_000
SEARCH_ITERATIONS = 2_000


def seconds_per_iteration(task, architecture: str, units: int, population: int, iterations: int) -> float:
    """Wall seconds per training iteration of ``population`` networks (compilation excluded)."""
    config = TrainConfig(n_iterations=iterations, batch_size=64, steps_per_call=50)
    run = lambda: train_population(
        task,
        architecture,
        "tanh",
        units,
        range(population),
        HP,
        config,  # noqa: E731
        progress=False,
    )
    jax.block_until_ready(run().models)  # compiles
    start = time.perf_counter()
    jax.block_until_ready(run().models)
    return (time.perf_counter() - start) / iterations


def check_vectorised() -> float:
    """Largest relative difference between vmapped and one-after-another members' losses."""
    task = FlipFlop(n_time=20)
    config = TrainConfig(n_iterations=20, batch_size=16, steps_per_call=10)
    kwargs = dict(progress=False, devices=jax.local_devices()[:1])
    vmapped = train_population(task, "gru", "tanh", 16, range(4), HP, config, vectorise=True, **kwargs)
    mapped = train_population(task, "gru", "tanh", 16, range(4), HP, config, vectorise=False, **kwargs)
    return float(np.max(np.abs(vmapped.losses - mapped.losses) / np.abs(mapped.losses)))


def main() -> None:
    paperlib.use_host_devices()  # one single-threaded JAX device per core
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=500, help="timed iterations per shape")
    parser.add_argument(
        "--sizes", type=int, nargs="*", default=[1, 480], help="other population sizes to time for GRU-256 flip-flop"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args()
    device = jax.local_devices()[0]
    emit = (lambda row: print(json.dumps(row), flush=True)) if args.json else (lambda row: None)
    print(
        f"{len(jax.local_devices())} {device.platform} device(s): {device.device_kind}; jax {jax.__version__}",
        flush=True,
    )
    if device.platform != "cpu":
        diff = check_vectorised()
        print(f"vmapped vs one-after-another losses: largest relative difference {diff:.2e}", flush=True)
        emit({"check": "vectorise", "max_relative_difference": diff})

    tasks = {name: PAPER.plan(name).task for name, _ in PAPER.plans}
    rate: dict[tuple[str, str, int], float] = {}
    shapes = [(t, a, 256) for t in tasks for a in PAPER.architectures]
    shapes += [("flipflop", "gru", n) for n in PAPER.units if n != 256]
    print(f"{'task':<10}{'cell':<9}{'units':>6}{'ms / iteration':>16}{'network-it/s':>14}", flush=True)
    for task, arch, units in shapes:
        s = seconds_per_iteration(tasks[task], arch, units, SEEDS, args.iterations)
        rate[task, arch, units] = s
        print(f"{task:<10}{arch:<9}{units:>6}{1e3 * s:>16.2f}{SEEDS / s:>14.0f}", flush=True)
        emit({"task": task, "architecture": arch, "units": units, "population": SEEDS, "seconds_per_iteration": s})

    base = rate["flipflop", "gru", 256]
    if args.sizes:
        print(f"GRU-256 flip-flop, populations: {'P':>5}{'ms / iteration':>16}{'vs P=30':>9}", flush=True)
        print(f"{'':32}{SEEDS:>5}{1e3 * base:>16.2f}{1.0:>8.2f}x", flush=True)
        for P in args.sizes:
            s = seconds_per_iteration(tasks["flipflop"], "gru", 256, P, args.iterations)
            print(f"{'':32}{P:>5}{1e3 * s:>16.2f}{s / base:>8.2f}x", flush=True)
            emit({"task": "flipflop", "architecture": "gru", "units": 256, "population": P, "seconds_per_iteration": s})

    total = 0.0
    for task in tasks:
        hours = 0.0
        for unit in PAPER.work_units(task):
            size_factor = rate["flipflop", "gru", unit.units] / base
            hours += (TRAIN_ITERATIONS + SEARCH_ITERATIONS) * rate[task, unit.architecture, 256] * size_factor / 3600
        total += hours
        n = len(PAPER.work_units(task))
        print(f"paper profile, {task}: {n} work units × {SEEDS} seeds: {hours:.1f} device-hours", flush=True)
        emit({"task": task, "work_units": n, "estimated_hours": hours})
    print(f"paper profile, all tasks: {total:.1f} device-hours on {device.device_kind}", flush=True)


if __name__ == "__main__":
    main()
