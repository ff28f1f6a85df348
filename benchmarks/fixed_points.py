"""Fixed-point search: batched against a per-state loop, and end to end against fixed-point-finder.

A 64-unit GRU (tanh, 3 inputs, x* = 0, seed 0), untrained and trained on flip-flop, with 1,024
initial states drawn from its trajectories on flip-flop probe inputs plus noise:

(a) ``find_fixed_points`` on all states at once against the same search run on one state at a
    time (timed on a sample of states and scaled), in one run;
(b) end to end (search, duplicates, outliers, Jacobians, eigen-decomposition) against
    fixed-point-finder's PyTorch backend (Golub & Sussillo 2018), the tool users run today, with
    the same ``tol_q`` and ``tol_unique`` and the same network written as a PyTorch module. It is
    not a dependency: part (b) runs when ``torch`` is installed and the fixed-point-finder folder
    is given (``--fpf PATH`` or ``FIXED_POINT_FINDER=PATH``), and is skipped with a note otherwise.
    Both sets of fixed points (q below ``keep_q``, merged within 0.02) are matched point to point;
    fixed-point-finder runs with its default initial rate (1.0) and with 0.01, which did better here.

    python benchmarks/fixed_points.py [--states 1024] [--loop-states 32] [--fpf PATH] [--fpf-lr 1.0 0.01] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import paperlib
from paperlib.analysis import network_states
from paperlib.dynamics.fixed_points import FixedPointOptions, find_fixed_points, initial_states
from paperlib.models.rnn import RNN, make_rnn
from paperlib.tasks import FlipFlop
from paperlib.training.profiles import get_profile
from paperlib.training.train import train_population


def gru_networks(trained_iterations: int) -> dict[str, RNN]:
    """The benchmark's GRU, untrained and trained on flip-flop with the small profile's settings."""
    untrained = make_rnn("gru", "tanh", 64, 3, 3, jax.random.PRNGKey(0))
    plan = get_profile("small").plan("flipflop")
    stage = plan.stages[0]
    config = dataclasses.replace(stage.config, n_iterations=trained_iterations)
    result = train_population(
        stage.task, "gru", "tanh", 64, [0], plan.hyperparameters("gru", "tanh", 1e-4), config, progress=False
    )
    return {"untrained": untrained, f"trained ({trained_iterations} it)": result.member(0)}


def torch_gru(model: RNN):
    """``model``'s GRU as the PyTorch module fixed-point-finder expects: ``(inputs, h0) -> (outputs, h_n)``."""
    import torch

    class PaperlibGRU(torch.nn.Module):
        batch_first = True

        def __init__(self):
            super().__init__()
            cell = model.cell
            for name in ("W", "B", "b"):
                self.register_parameter(name, torch.nn.Parameter(torch.tensor(np.asarray(getattr(cell, name)))))
            self.n = cell.n_units

        def forward(self, inputs, h0):  # inputs (batch, 1, m), h0 (1, batch, n)
            x, h, n = inputs[:, 0], h0[0], self.n
            zx = x @ self.B.T + self.b
            u, r = torch.sigmoid(h @ self.W[: 2 * n].T + zx[:, : 2 * n]).chunk(2, dim=-1)
            c = torch.tanh((r * h) @ self.W[2 * n :].T + zx[:, 2 * n :])
            h_new = u * h + (1 - u) * c
            return h_new[:, None], h_new[None]

    module = PaperlibGRU()
    h = np.random.default_rng(0).normal(size=(5, 64)).astype(np.float32)
    x = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
    ours = np.asarray(jax.vmap(model.step)(jnp.asarray(h), jnp.asarray(x)))
    with torch.no_grad():
        theirs = module(torch.tensor(x)[:, None], torch.tensor(h)[None])[1][0].numpy()
    np.testing.assert_allclose(theirs, ours, atol=1e-5, err_msg="the PyTorch GRU is not the same map")
    return module


def distinct(points: np.ndarray, q: np.ndarray, tol: float) -> np.ndarray:
    """Points at least ``tol`` apart (max-abs), lowest ``q`` first: one per fixed point."""
    kept = []
    for i in np.argsort(q):
        if not kept or np.abs(points[kept] - points[i]).max(axis=1).min() >= tol:
            kept.append(i)
    return points[kept]


def match(a: np.ndarray, b: np.ndarray, tol: float) -> int:
    """How many points of ``a`` have a point of ``b`` within ``tol`` in every coordinate."""
    if len(a) == 0 or len(b) == 0:
        return 0
    return int(np.sum(np.abs(a[:, None] - b[None]).max(axis=-1).min(axis=1) < tol))


def batched_vs_loop(model, starts, options, loop_states):
    x = jnp.zeros(3)
    start = time.perf_counter()
    find_fixed_points(model.step, x, starts, options)
    first = time.perf_counter() - start  # compiling included
    start = time.perf_counter()
    fps = find_fixed_points(model.step, x, starts, options)
    batched = time.perf_counter() - start
    find_fixed_points(model.step, x, starts[:1], options)  # compile
    start = time.perf_counter()
    for h in starts[:loop_states]:
        find_fixed_points(model.step, x, h[None], options)
    loop = (time.perf_counter() - start) / loop_states * len(starts)
    return fps, first, batched, loop


def against_fpf(model, starts, options, fps, seconds, fpf_path, lr_init):
    """fixed-point-finder's PyTorch search on the same map and initial states, and how its points
    (q < keep_q, merged within 0.02) compare with ours."""
    sys.path.insert(0, fpf_path)
    from FixedPointFinderTorch import FixedPointFinderTorch

    finder = FixedPointFinderTorch(
        torch_gru(model),
        lr_init=lr_init,
        tol_q=options.tol_q,
        tol_unique=options.tol_unique,
        verbose=False,
        super_verbose=False,
    )
    with contextlib.redirect_stdout(io.StringIO()):
        start = time.perf_counter()
        unique, _ = finder.find_fixed_points(starts, np.zeros((1, 3), np.float32))
        theirs = time.perf_counter() - start
    kept = unique.qstar < options.keep_q
    points = distinct(unique.xstar[kept], unique.qstar[kept], 0.02)
    return {
        "fpf_lr_init": lr_init,
        "fpf_seconds": round(theirs, 3),
        "speedup": round(theirs / seconds, 1),
        "fpf_iterations": int(unique.n_iters[0]) if unique.n else None,
        "fpf_points": len(points),
        "fpf_median_q": float(f"{np.median(unique.qstar):.1e}") if unique.n else None,
        "ours_found_by_fpf": match(fps.states, points, 0.02),
        "fpf_found_by_ours": match(points, fps.states, 0.02),
    }


def main() -> None:
    paperlib.use_host_devices()  # one single-threaded JAX device per core
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, default=1024)
    parser.add_argument("--loop-states", type=int, default=32, help="states timed one by one")
    parser.add_argument("--trained-iterations", type=int, default=1500, help="flip-flop training of the second GRU")
    parser.add_argument("--fpf", default=os.environ.get("FIXED_POINT_FINDER"), help="fixed-point-finder folder")
    parser.add_argument(
        "--fpf-lr",
        type=float,
        nargs="+",
        default=[1.0, 0.01],
        help="fixed-point-finder's initial Adam rates to run (its default is 1.0)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    fpf_note = None
    if args.fpf is None:
        fpf_note = "part (b) skipped: give --fpf PATH (or FIXED_POINT_FINDER) to compare with fixed-point-finder"
    else:
        try:
            import torch  # noqa: F401
        except ImportError:
            fpf_note = "part (b) skipped: torch is not installed"

    options = FixedPointOptions()
    task = FlipFlop()
    rows = []
    for name, model in gru_networks(args.trained_iterations).items():
        states, _ = network_states(model, task.probe_inputs())
        starts = initial_states(states, args.states, noise=0.5, seed=0).astype(np.float32)
        fps, first, batched, loop = batched_vs_loop(model, starts, options, args.loop_states)
        row = {
            "network": name,
            "states": args.states,
            "loop_seconds": round(loop, 3),
            "batched_seconds": round(batched, 3),
            "batched_speedup": round(loop / batched, 1),
            "first_call_seconds": round(first, 3),
            "fixed_points": len(fps),
            "iterations": fps.n_iterations,
            "max_q": float(f"{fps.q.max():.1e}"),
        }
        rows.append(row)
        if fpf_note is None:
            for lr_init in args.fpf_lr:
                rows.append({"network": name, **against_fpf(model, starts, options, fps, batched, args.fpf, lr_init)})
    for row in rows:
        print(json.dumps(row) if args.json else "  ".join(f"{k}={v}" for k, v in row.items()))
    if fpf_note:
        print(fpf_note)


if __name__ == "__main__":
    main()
