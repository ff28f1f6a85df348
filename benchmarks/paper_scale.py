"""What a profile's grid costs on one device: shapes packed into one population against one configuration at a time.

For every shape of ``--profile`` (task × architecture × units; relu is timed as tanh), this times
``train_population`` for ``--iterations`` iterations at two population sizes in the same run, after
a first run of each that compiles it: a configuration's seeds (30 at the paper profile: how the
sweep trained before it packed), and the shape's packed population (the seeds of every L2 value,
cut to what fits the device, ``paperlib.training.sweep.members_that_fit``). A line t(P) = a + b·P through
the two gives the search populations' times, and the profile's cost is

    one configuration at a time:  Σ configurations  20,000 · t(seeds)      + 2,000 · t(16)
    packed by shape:              Σ packs           20,000 · t(L2s · seeds) + 2,000 · t(16 · L2s)

(the paper's 20,000 training and 16 search trials × 2,000 iterations per configuration).

``--project`` computes the same sums without a device, from the timings recorded on one NVIDIA
H200 on 2026-11-26 (jax 0.11.2, JAX's default matmul precision): 30-network populations at 256
units for every task and architecture, GRU flip-flop at 64 and 128 units, and GRU-256 flip-flop
populations of 1, 30 and 480. There, t(P) = a + b·P with b proportional to a member's
multiply-adds (fitted on the GRU-256 populations: b = 0.304 ms) and a, the cost of one
iteration's hundreds of small kernels and the scan's steps, whatever is left of the 30-network
time at 256 units, the same at every size; the model is checked against GRU flip-flop at 64 and 128.

``--matmul-check`` (GPUs) trains one packed population in float32 and in TF32 (and bf16) and
compares the final losses with their seed-to-seed spread (the rule for using TF32 in a profile).

    python benchmarks/paper_scale.py [--profile paper] [--iterations 200] [--tasks cdi] [--units 256] [--cells gru]
                                     [--unroll 10] [--matmul tensorfloat32] [--json]
    python benchmarks/paper_scale.py --project [--profile medium]
    python benchmarks/paper_scale.py --matmul-check [--check-iterations 5000]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import jax
import numpy as np

import paperlib
from paperlib.models.cells import ARCHITECTURES, CELLS
from paperlib.tasks import FlipFlop
from paperlib.training.config import Hyperparameters, TrainConfig
from paperlib.training.profiles import get_profile
from paperlib.training.sweep import members_that_fit
from paperlib.training.train import train_population
from paperlib.training.units import consecutive_groups, pack

HP = Hyperparameters(learning_rate=0.01, decay_rate=0.5, momentum=0.9, clip=1.0, l2=1e-4)

# Recorded on one NVIDIA H200 (2026-11-26, jax 0.11.2): ms per iteration of a 30-network population at
# 256 units (Vanilla, UGRNN, GRU, LSTM), GRU flip-flop at other sizes, and GRU-256 flip-flop populations.
H200_T30_256 = {
    "flipflop": (5.3, 9.8, 14.2, 16.6),
    "sine": (21.7, 42.4, 64.3, 76.2),
    "cdi": (1.7, 3.1, 4.5, 5.2),
}
H200_GRU_FLIPFLOP_T30 = {64: 5.6, 128: 7.9, 256: 14.2}
H200_GRU256_FLIPFLOP = {1: 5.4, 30: 14.2, 480: 151.0}
H200_BYTES_LIMIT = 0.75 * 139 * 2**30  # XLA's default share of the card's memory


@dataclasses.dataclass(frozen=True)
class Line:
    """Milliseconds per iteration of a population of P networks: a + b·P."""

    a: float
    b: float

    def __call__(self, P: int) -> float:
        return self.a + self.b * P


def multiply_adds(task, architecture: str, units: int) -> float:
    """One member's multiply-adds per time step and trial (the recurrent, input and readout products)."""
    return len(CELLS[architecture].BLOCKS) * units * (units + task.n_inputs) + task.n_outputs * units


def seconds_per_iteration(task, architecture: str, units: int, population: int, iterations: int, **kw) -> float:
    """Wall seconds per training iteration of ``population`` networks (compilation excluded)."""
    config = TrainConfig(n_iterations=iterations, batch_size=64, steps_per_call=min(50, iterations), **kw)
    members = range(population)
    run = lambda: train_population(task, architecture, "tanh", units, members, HP, config, progress=False)  # noqa: E731
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


def shapes(profile, tasks) -> list[tuple[str, str, int]]:
    return [
        (task, arch, units)
        for task in tasks
        for arch in profile.architectures
        for units in profile.units
        if any(u.architecture == arch and u.units == units for u in profile.work_units(task))
    ]


def cost(profile, tasks, lines: dict, limit) -> dict[str, dict[str, float]]:
    """Device-hours per task, one configuration at a time and packed by shape, from per-shape ``lines``."""
    out = {}
    for task in tasks:
        plan = profile.plan(task)
        train_its = sum(s.config.n_iterations for s in plan.stages)
        trials, search_its = (plan.search.n_trials, plan.search.n_iterations) if plan.search else (0, 0)
        alone = packed = 0.0
        for group in pack(profile.work_units(task)):  # one shape each
            _, arch, _, units = group[0].shape
            t = lines[task, arch, units]
            seeds = len(group[0].seeds)
            alone += len(group) * (train_its * t(seeds) + (search_its * t(trials) if trials else 0))
            cap = limit(task, arch, units)
            for part in consecutive_groups([seeds] * len(group), cap):
                packed += train_its * t(seeds * len(part))
            if trials:
                for part in consecutive_groups([trials] * len(group), cap):
                    packed += search_its * t(trials * len(part))
        out[task] = {"one_configuration_at_a_time": alone / 3.6e6, "packed": packed / 3.6e6}
    return out


def print_cost(title: str, hours: dict, emit) -> None:
    print(title, flush=True)
    for task, h in hours.items():
        ratio = h["one_configuration_at_a_time"] / h["packed"]
        print(
            f"  {task:<9} {h['one_configuration_at_a_time']:6.2f} h one configuration at a time, "
            f"{h['packed']:6.2f} h packed ({ratio:.2f}x)",
            flush=True,
        )
        emit({"task": task, **h})
    total = {k: sum(h[k] for h in hours.values()) for k in ("one_configuration_at_a_time", "packed")}
    ratio = total["one_configuration_at_a_time"] / total["packed"]
    print(
        f"  all tasks {total['one_configuration_at_a_time']:6.2f} h one configuration at a time, "
        f"{total['packed']:6.2f} h packed ({ratio:.2f}x)",
        flush=True,
    )
    emit({"task": "all", **total})


def project(profile, emit) -> None:
    """The profile's cost from the recorded H200 timings (module docstring)."""
    paper = get_profile("paper")
    tasks = {name: paper.plan(name).task for name, _ in paper.plans}
    Ps = np.array(list(H200_GRU256_FLIPFLOP))
    b_ref, a_ref = np.polyfit(Ps, np.array(list(H200_GRU256_FLIPFLOP.values())), 1)
    ref = multiply_adds(tasks["flipflop"], "gru", 256) * tasks["flipflop"].n_time
    lines = {}
    for task, row in H200_T30_256.items():
        for arch, t30 in zip(ARCHITECTURES, row):
            work = lambda n: multiply_adds(tasks[task], arch, n) * tasks[task].n_time / ref  # noqa: E731
            a = t30 - 30 * b_ref * work(256)
            for units in (64, 128, 256):
                lines[task, arch, units] = Line(a, b_ref * work(units))
    print(
        f"H200 model: GRU-256 flip-flop t(P) = {a_ref:.2f} + {b_ref:.3f}·P ms (P = 1, 30, 480: "
        + ", ".join(f"{a_ref + b_ref * P:.1f}" for P in Ps)
        + " ms; measured "
        + ", ".join(f"{v:.1f}" for v in H200_GRU256_FLIPFLOP.values())
        + ")",
        flush=True,
    )
    for units in (64, 128):
        print(
            f"  check: GRU-{units} flip-flop, 30 networks: model {lines['flipflop', 'gru', units](30):.2f} ms, "
            f"measured {H200_GRU_FLIPFLOP_T30[units]:.2f} ms",
            flush=True,
        )

    class H200:
        platform = "gpu"

        def memory_stats(self):
            return {"bytes_limit": H200_BYTES_LIMIT}

    limit = lambda task, arch, units: members_that_fit(tasks[task], arch, units, 64, H200())  # noqa: E731
    names = [name for name, _ in profile.plans]
    print_cost(f"{profile.name} profile, projected on one H200:", cost(profile, names, lines, limit), emit)
    fixed = cost(profile, names, {k: Line(line.a, 0.0) for k, line in lines.items()}, limit)
    fixed_hours = sum(h["packed"] for h in fixed.values())
    print(f"  packed, the part that does not grow with the population (a): {fixed_hours:.2f} h", flush=True)
    emit({"task": "all", "packed_fixed_part": fixed_hours})


def matmul_check(iterations: int, emit) -> None:
    """Final losses of one packed population in float32, TF32 and bf16, against the seed-to-seed spread."""
    task, seeds = FlipFlop(), range(20)
    config = TrainConfig(n_iterations=iterations, batch_size=64, steps_per_call=50)
    hp = Hyperparameters(learning_rate=0.36, decay_rate=0.62, momentum=0.91, clip=0.89, l2=1e-4)
    final = {}
    for matmul in ("float32", "tensorfloat32", "bfloat16"):
        start = time.perf_counter()
        result = train_population(
            task, "gru", "tanh", 128, seeds, hp, dataclasses.replace(config, matmul=matmul), progress=False
        )
        seconds = time.perf_counter() - start
        final[matmul] = result.final_loss
        spread = np.nanstd(final["float32"])
        shift = np.nanmean(final[matmul]) - np.nanmean(final["float32"])
        print(
            f"GRU-128 flip-flop, 20 seeds, {iterations} iterations, {matmul:<13}: mean final loss "
            f"{np.nanmean(final[matmul]):.3e}, shift from float32 {shift:+.2e} (seed spread {spread:.2e}), "
            f"{seconds:.1f} s with compilation",
            flush=True,
        )
        emit(
            {
                "check": "matmul",
                "matmul": matmul,
                "mean_final_loss": float(np.nanmean(final[matmul])),
                "shift": float(shift),
                "seed_spread": float(spread),
                "seconds": seconds,
            }
        )


def main() -> None:
    paperlib.use_host_devices()  # one single-threaded JAX device per core
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="paper", help="the grid to cost (default: paper)")
    parser.add_argument("--tasks", nargs="*", default=None, help="tasks to time (default: all of the profile's)")
    parser.add_argument("--units", type=int, nargs="*", default=None, help="sizes to time (default: the profile's)")
    parser.add_argument("--cells", nargs="*", default=None, help="architectures to time (default: the profile's)")
    parser.add_argument("--iterations", type=int, default=200, help="timed iterations per population")
    parser.add_argument("--unroll", type=int, default=1, help="time steps per loop iteration (TrainConfig.unroll)")
    parser.add_argument("--matmul", default="float32", help="training's matrix products (TrainConfig.matmul)")
    parser.add_argument("--project", action="store_true", help="project from the recorded H200 timings instead")
    parser.add_argument("--matmul-check", action="store_true", help="float32 against TF32 and bf16 (GPUs)")
    parser.add_argument("--check-iterations", type=int, default=5000, help="iterations of --matmul-check")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args()
    profile = get_profile(args.profile)
    emit = (lambda row: print(json.dumps(row), flush=True)) if args.json else (lambda row: None)
    if args.project:
        return project(profile, emit)
    device = jax.local_devices()[0]
    print(
        f"{len(jax.local_devices())} {device.platform} device(s): {device.device_kind}; jax {jax.__version__}; "
        f"unroll {args.unroll}, {args.matmul} products",
        flush=True,
    )
    if args.matmul_check:
        if device.platform != "gpu":
            raise SystemExit("--matmul-check needs an NVIDIA GPU (TF32)")
        return matmul_check(args.check_iterations, emit)
    if device.platform != "cpu":
        diff = check_vectorised()
        print(f"vmapped vs one-after-another losses: largest relative difference {diff:.2e}", flush=True)
        emit({"check": "vectorise", "max_relative_difference": diff})

    tasks = args.tasks or [name for name, _ in profile.plans]
    timed = [
        (task, arch, units)
        for task, arch, units in shapes(profile, tasks)
        if (args.units is None or units in args.units) and (args.cells is None or arch in args.cells)
    ]
    seeds, n_l2 = len(profile.seeds), len(profile.l2s)
    lines, limits = {}, {}
    print(
        f"{'task':<10}{'cell':<9}{'units':>6}{'P':>6}{'ms/it':>9}{'P packed':>10}{'ms/it':>9}{'packed / alone':>16}",
        flush=True,
    )
    for task, arch, units in timed:
        t = profile.plan(task).task
        cap = members_that_fit(t, arch, units, 64)
        packed = seeds * min(n_l2, max(1, (cap or seeds * n_l2) // seeds))
        settings = dict(unroll=args.unroll, matmul=args.matmul)
        alone = seconds_per_iteration(t, arch, units, seeds, args.iterations, **settings) * 1e3
        together = (
            seconds_per_iteration(t, arch, units, packed, args.iterations, **settings) * 1e3
            if packed > seeds
            else alone
        )
        b = (together - alone) / (packed - seeds) if packed > seeds else alone / seeds
        lines[task, arch, units] = Line(alone - b * seeds, b)
        limits[task, arch, units] = cap
        gain = (packed / together) / (seeds / alone)
        print(
            f"{task:<10}{arch:<9}{units:>6}{seeds:>6}{alone:>9.2f}{packed:>10}{together:>9.2f}{gain:>15.2f}x",
            flush=True,
        )
        emit(
            {
                "task": task,
                "architecture": arch,
                "units": units,
                "population": seeds,
                "ms_per_iteration": alone,
                "packed_population": packed,
                "packed_ms_per_iteration": together,
                "network_iterations_ratio": gain,
            }
        )
    if len(timed) < len(shapes(profile, tasks)):
        return print("some shapes were left out (--units, --cells): no summed cost", flush=True)
    limit = lambda task, arch, units: limits[task, arch, units]  # noqa: E731
    print_cost(f"{profile.name} profile on {device.device_kind}:", cost(profile, tasks, lines, limit), emit)


if __name__ == "__main__":
    main()
