"""Fixed-point search: batched over initial states against a per-state loop, in one run.

A 64-unit GRU (untrained, tanh, 3 inputs, x* = 0, seed 0) and 1,024 initial states drawn from its
trajectories on flip-flop probe inputs plus noise: ``find_fixed_points`` on all states at once
against the same search run on one state at a time (timed on a sample of states and scaled).

    python benchmarks/fixed_points.py [--states 1024] [--loop-states 32] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

import paperlib  # noqa: F401  (before jax: one host device per core)
import jax
import jax.numpy as jnp
import numpy as np

from paperlib.analysis import network_states
from paperlib.fixed_points import FixedPointOptions, find_fixed_points, initial_states
from paperlib.rnn import make_rnn
from paperlib.tasks import FlipFlop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, default=1024)
    parser.add_argument("--loop-states", type=int, default=32, help="states timed one by one")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    task = FlipFlop()
    model = make_rnn("gru", "tanh", 64, 3, 3, jax.random.PRNGKey(0))
    states, _ = network_states(model, task.probe_inputs())
    starts = initial_states(states, args.states, noise=0.5, seed=0).astype(np.float32)
    options = FixedPointOptions()
    x = jnp.zeros(3)

    find_fixed_points(model.step, x, starts, options)  # compile
    start = time.perf_counter()
    fps = find_fixed_points(model.step, x, starts, options)
    batched = time.perf_counter() - start

    one = jax.devices()[:1]
    find_fixed_points(model.step, x, starts[:1], options, devices=one)  # compile
    start = time.perf_counter()
    for h in starts[: args.loop_states]:
        find_fixed_points(model.step, x, h[None], options, devices=one)
    loop = (time.perf_counter() - start) / args.loop_states * args.states

    rows = [
        {"method": "loop", "states": args.states, "seconds": round(loop, 3)},
        {"method": "batched", "states": args.states, "seconds": round(batched, 3), "speedup": round(loop / batched, 1),
         "fixed_points": len(fps), "iterations": fps.n_iterations, "max_q": float(f"{fps.q.max():.1e}")},
    ]
    for row in rows:
        print(json.dumps(row) if args.json else "  ".join(f"{k}={v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
