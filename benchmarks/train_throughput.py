"""Training throughput: the population trainer against a plain per-network Python loop.

GRU-64, tanh, 3-bit flip-flop (T = 100), batch 64, SGD-momentum. Both methods run the same
training step (``paperlib.training.train.member_step``); the loop calls it, jitted, once per network per
iteration, the population trainer runs ``steps_per_call`` iterations of P networks per compiled
call, split over every local device; the last row trains the largest population on one device
only, so its ratio to the row above says how much the devices run at once. Every number comes
from this one run; compilation is excluded (each method is warmed up first).

    python benchmarks/train_throughput.py [--iterations 100] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

import equinox as eqx
import jax
import jax.numpy as jnp

import paperlib
from paperlib.tasks import FlipFlop
from paperlib.training.config import Hyperparameters, TrainConfig
from paperlib.training.objective import HyperArrays, MemberState, make_optimizer, member_step
from paperlib.training.train import init_population, train_population

TASK = FlipFlop()
SHAPE = ("gru", "tanh", 64)
HP = Hyperparameters(learning_rate=0.36, decay_rate=0.62, momentum=0.91, clip=0.89, l2=1e-4)


def population_rate(P: int, config: TrainConfig, devices=None) -> float:
    train_population(TASK, *SHAPE, range(P), HP, config, devices=devices, progress=False)  # compile
    start = time.perf_counter()
    train_population(TASK, *SHAPE, range(P), HP, config, devices=devices, progress=False)
    return P * config.n_iterations / (time.perf_counter() - start)


def loop_rate(config: TrainConfig) -> float:
    models, keys = init_population(TASK, *SHAPE, [0])
    params, static = eqx.partition(jax.tree_util.tree_map(lambda a: a[0], models), eqx.is_array)
    hp = jax.tree_util.tree_map(lambda a: a[0], HyperArrays.stack([HP], config.n_iterations))
    state = MemberState.fresh(params, make_optimizer(hp, config.optimizer).init(params))
    step = jax.jit(member_step, static_argnums=(4, 5, 6))
    args = (hp, keys[0], static, TASK, config.step)
    jax.block_until_ready(step(state, jnp.int32(0), *args))  # compile
    start = time.perf_counter()
    for i in range(config.n_iterations):
        state, loss = step(state, jnp.int32(i), *args)
    jax.block_until_ready(state)
    return config.n_iterations / (time.perf_counter() - start)


def main() -> None:
    paperlib.use_host_devices()  # one single-threaded JAX device per core
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=100, help="timed iterations per method")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 8, 32], help="population sizes P")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args()
    config = TrainConfig(n_iterations=args.iterations, batch_size=64, steps_per_call=20)

    rows = [("loop", 1, loop_rate(config))]
    rows += [("population", P, population_rate(P, config)) for P in args.sizes]
    if len(jax.local_devices()) > 1:  # do the devices run at once? (same population on one device)
        P = max(args.sizes)
        rows.append(("1 device", P, population_rate(P, config, jax.local_devices()[:1])))
    loop = rows[0][2]
    if args.json:
        for method, P, rate in rows:
            print(json.dumps({"method": method, "P": P, "network_iterations_per_second": round(rate, 2)}))
        return
    devices = jax.local_devices()
    print(
        f"GRU-64 tanh flip-flop, batch 64, T=100, {args.iterations} iterations per method; "
        f"{len(devices)} {devices[0].platform} device(s)"
    )
    print(f"{'method':<12}{'P':>4}{'network-it/s':>15}{'vs loop':>10}")
    for method, P, rate in rows:
        print(f"{method:<12}{P:>4}{rate:>15.1f}{rate / loop:>9.2f}x")


if __name__ == "__main__":
    main()
