"""Distance matrices over whole populations: every representation decomposed once, all pairs batched.

``pairwise(reps, metric)``: SVCCA, linear CKA and Procrustes from each representation's SVD
(``paperlib.similarity.basis.fit``), compared in compiled JAX blocks; networks are grouped by
kept width so that padding stays small (2,880 networks of 2,000 × 64: ``benchmarks/similarity.py``).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import os
from collections.abc import Sequence

import jax
import numpy as np
from jaxtyping import Bool, Float
from tqdm import tqdm

from paperlib.similarity.alignment import cka, cka_block
from paperlib.similarity.basis import Fitted, fit, matrix
from paperlib.similarity.cca import check_truncation, svcca_block
from paperlib.similarity.cka_bounded import pairwise_linear_cka
from paperlib.similarity.held_out import pairwise_held_out
from paperlib.similarity.shape import procrustes_block

METRICS = ("svcca", "cka", "procrustes")


def _fit_all(reps: Sequence[np.ndarray], progress: bool) -> list[Fitted]:
    """``fit`` every representation, two at a time with one BLAS thread each (about 4x faster on
    2 cores than letting OpenBLAS thread each small SVD)."""
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    with threadpool_limits(1), ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        return list(tqdm(pool.map(fit, reps), total=len(reps), desc="fit", disable=not progress, leave=False))


@dataclasses.dataclass
class _Bucket:
    """Networks whose kept widths round up to the same ``width``, stacked and padded to whole tiles."""

    index: np.ndarray  # (n_padded,) network indices, -1 for padding
    U: np.ndarray  # (n_padded, samples, width) float32, zero-padded columns
    s: np.ndarray  # (n_padded, width) float32


def _buckets(fits: Sequence[Fitted], widths: Sequence[int], block: int, step: int = 4) -> list[_Bucket]:
    """Group networks by kept width rounded up to a multiple of ``step``: every pair of buckets is one
    compiled block shape, and no network is padded by more than ``step - 1`` zero columns
    (which leave singular values, Frobenius and nuclear norms unchanged)."""
    rounded = np.asarray([-(-w // step) * step for w in widths])
    buckets = []
    for width in np.unique(rounded):
        members = np.flatnonzero(rounded == width)
        n_padded = -(-len(members) // block) * block
        index = np.full(n_padded, -1)
        index[: len(members)] = members
        U = np.zeros((n_padded, fits[0].U.shape[0], width), np.float32)
        s = np.zeros((n_padded, width), np.float32)
        for row, i in enumerate(members):
            U[row, :, : widths[i]] = fits[i].U[:, : widths[i]]
            s[row, : widths[i]] = fits[i].s[: widths[i]]
        buckets.append(_Bucket(index, U, s))
    return buckets


def pairwise(
    reps: Sequence[Float[np.ndarray, "samples _features"]],
    metric: str = "svcca",
    *,
    k: int | None = None,
    variance: float | None = 0.95,
    kernel: str = "linear",
    sigma: float | None = None,
    debiased: bool = False,
    held_out: Bool[np.ndarray, " samples"] | None = None,
    tolerance: float | None = None,
    block: int = 32,
    progress: bool = True,
) -> Float[np.ndarray, "n n"]:
    """Distances between every pair of representations.

    **Arguments:**

    - ``reps``: N matrices (samples, features_i), all with the same samples.
    - ``metric``: ``"svcca"`` or ``"cka"`` (1 − similarity), or ``"procrustes"`` (radians).
    - ``k``, ``variance``: SVCCA's truncation; ``kernel``, ``sigma``, ``debiased``: CKA's options.
    - Dynamical Similarity Analysis compares trajectories ``(trials, time, units)``, not samples:
      it is ``paperlib.similarity.dsa.pairwise``, and ``metric="dsa"`` here raises, naming it.
    - ``held_out``: a boolean mask over the samples; each pair is fitted on the samples where it is
      False and scored where it is True (``paperlib.similarity.held_out``; linear CKA only, among
      the CKA variants). Default None: fitted and scored on every sample, as the paper computes it.
    - ``tolerance``: linear CKA only: every entry within ``tolerance`` of the exact value, computed
      from reduced representations with a guaranteed bound (``paperlib.similarity.cka_bounded``;
      for thousands of networks). Default None: exact.
    - ``block``: pairs compared per compiled call, ``block`` × ``block``.
    - ``progress``: show a progress bar.

    **Returns:** (N, N) symmetric distances with a zero diagonal, equal to the per-pair functions
    up to float32 rounding (~1e-6). SVCCA, linear CKA and Procrustes run batched in JAX from each
    representation's SVD, computed once; RBF or debiased CKA call ``cka`` once per pair.

    ```python
    import numpy as np
    from paperlib.similarity import pairwise
    reps = [np.random.default_rng(i).normal(size=(200, 16)) for i in range(4)]
    D = pairwise(reps, "cka", progress=False)  # (4, 4)
    ```
    """
    if metric == "dsa":
        raise ValueError(
            "DSA compares trajectories (trials, time, units), not samples: use paperlib.similarity.dsa.pairwise"
        )
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {list(METRICS)}, got {metric!r}")
    reps = [matrix(f"reps[{i}]", r) for i, r in enumerate(reps)]
    if len(reps) < 2:
        raise ValueError(f"pairwise needs at least 2 representations, got {len(reps)}")
    n_samples = {r.shape[0] for r in reps}
    if len(n_samples) != 1:
        raise ValueError(f"every representation must have the same number of samples, got {sorted(n_samples)}")
    n = len(reps)
    if held_out is not None:
        if metric == "cka" and (kernel != "linear" or debiased):
            raise ValueError("held_out is for SVCCA, Procrustes and linear CKA; RBF and debiased CKA fit nothing")
        if metric == "svcca":
            check_truncation(k, variance)
        with tqdm(total=n * (n - 1) // 2, desc=f"held-out {metric}", disable=not progress, leave=False) as bar:
            return pairwise_held_out(reps, metric, held_out, k=k, variance=variance, progress=bar)
    if tolerance is not None:
        if metric != "cka" or kernel != "linear" or debiased:
            raise ValueError("tolerance is for linear CKA only (metric='cka', kernel='linear', debiased=False)")
        if not 0 <= tolerance < 1:
            raise ValueError(f"tolerance must be in [0, 1), got {tolerance!r}")
        D, _ = pairwise_linear_cka(_fit_all(reps, progress), tolerance)
        return D
    if metric == "cka" and (kernel != "linear" or debiased):
        D = np.zeros((n, n))
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        for i, j in tqdm(pairs, desc="cka pairs", disable=not progress):
            D[i, j] = D[j, i] = 1.0 - cka(reps[i], reps[j], kernel=kernel, sigma=sigma, debiased=debiased)
        return D
    if metric == "svcca":
        check_truncation(k, variance)

    fits = _fit_all(reps, progress)
    if metric == "svcca":
        widths = [f.n_components(k, variance) for f in fits]
    else:
        widths = [len(f.s) for f in fits]
    kept = np.asarray(widths, np.float32)
    total_sq = np.array([np.sum(f.s**2) for f in fits])  # ‖X‖_F²
    fourth = np.array([np.sqrt(np.sum(f.s**4)) for f in fits])  # ‖XᵀX‖_F
    buckets = _buckets(fits, widths, block)
    tiles = [
        (a, b, i, j)
        for a in range(len(buckets))
        for b in range(a, len(buckets))
        for i in range(0, len(buckets[a].index), block)
        for j in range(0, len(buckets[b].index), block)
        if a != b or j >= i
    ]

    # One device: SVDs (LAPACK calls) running at once on two host CPU devices were seen to deadlock,
    # and separate calls on two devices were measured to run one after the other anyway.
    on = functools.partial(jax.device_put, device=jax.local_devices()[0])
    S = np.zeros((n, n))

    def finish(r, c, out):
        out = np.asarray(out, np.float64)[: len(r), : len(c)]
        if metric == "svcca":
            value = 1.0 - out / np.minimum(kept[r][:, None], kept[c][None, :])
        elif metric == "cka":
            value = 1.0 - out / (fourth[r][:, None] * fourth[c][None, :])
        else:
            value = np.arccos(np.clip(out / np.sqrt(total_sq[r][:, None] * total_sq[c][None, :]), -1.0, 1.0))
        S[np.ix_(r, c)] = value
        S[np.ix_(c, r)] = value.T

    in_flight = collections.deque()  # dispatched tiles; JAX runs them while Python prepares the next
    for a, b, i, j in tqdm(tiles, desc=f"{metric} blocks", disable=not progress, leave=False):
        A, B = buckets[a], buckets[b]
        rows, cols = A.index[i : i + block], B.index[j : j + block]
        ua, ub = on(A.U[i : i + block]), on(B.U[j : j + block])
        if metric == "svcca":
            out = svcca_block(ua, ub)
        else:
            sa, sb = on(A.s[i : i + block]), on(B.s[j : j + block])
            out = (cka_block if metric == "cka" else procrustes_block)(ua, sa, ub, sb)
        in_flight.append((rows[rows >= 0], cols[cols >= 0], out))
        if len(in_flight) > 2:
            finish(*in_flight.popleft())
    while in_flight:
        finish(*in_flight.popleft())
    S = 0.5 * (S + S.T)  # a tile on the diagonal holds both (i, j) and (j, i)
    np.fill_diagonal(S, 0.0)
    return np.clip(S, 0.0, None)
