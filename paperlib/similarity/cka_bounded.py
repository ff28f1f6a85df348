"""Linear CKA between every pair of thousands of representations, each entry within a guaranteed bound.

``paperlib.similarity.pairwise(reps, "cka", tolerance=1e-3)`` calls it; the exact path stays the default.

Notation: centred ``X = U diag(s) Vᵀ``, ``K = X Xᵀ``, ``p = s²/‖s²‖₂`` (``‖K‖_F = ‖s²‖₂`` is known
exactly), and ``A = U diag(√p)``, the normalised representation: linear CKA
``= tr(K_x K_y)/(‖K_x‖‖K_y‖) = ‖A_xᵀ A_y‖_F²``. Two reductions, each with a bound:

- ``"features"`` (truncation): keep the top ``k_x`` columns of ``A_x`` (``A_x = A + E``,
  ``A_y = B + F``). ``A Aᵀ`` and ``E Eᵀ`` add up exactly and are PSD, so ``CKA − ‖Aᵀ B‖² =
  tr(K_A K_F) + tr(K_E K_y) ∈ [0, Δ]``, ``Δ = Σᵢ p_x[i] p_y[k_y+i] + Σᵢ p_x[k_x+i] p_y[i]``
  (von Neumann's trace inequality; the smaller of this and its x↔y swap is used). ``‖Aᵀ B‖²``
  of all pairs comes from blocks of one GEMM of the stacked ``A``s; ``choose_ranks`` picks ``k``.
- ``"kernel"`` (shared basis): all networks see the same samples, so their ``A``s share a subspace
  of sample space: ``Q`` (samples × r, orthonormal), top eigenvectors of ``Σ A Aᵀ`` over a
  subsample. ``A_x = Q C_x + R_x`` with ``Qᵀ R_x = 0``, so ``A_xᵀA_y = P + S``, ``P = C_xᵀC_y``,
  ``S = R_xᵀR_y``, ``‖S‖ ≤ ρ_xρ_y`` (``ρ² = ‖R_xᵀR_x‖_F``; Cauchy–Schwarz on PSD matrices) and
  ``|⟨P, S⟩| = |⟨C_xR_xᵀ, C_yR_yᵀ⟩| ≤ w_x w_y`` (``w² = tr(R_xᵀR_x C_xᵀC_x)``). With
  ``c = ‖P‖² = ⟨C_xC_xᵀ, C_yC_yᵀ⟩`` (one syrk of the vectorised r × r Gram matrices: ``r²/2``
  per pair instead of ``k_x k_y × samples``): CKA ``∈ [max(c − 2w_xw_y, (√c − ρ_xρ_y)₊²),
  min(c + 2w_xw_y + ρ_x²ρ_y², (√c + ρ_xρ_y)²)]``; ``r`` is the smallest meeting the tolerance.

Each entry is the midpoint of its interval and its bound half the width (≤ ``tolerance``).
``method="auto"`` counts both methods' operations and runs the cheaper. The bounds cover the
reductions in exact arithmetic; float32 products add rounding of about 1e-6, as in the exact path.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

STEP = 16  # the shared basis grows in steps of this many directions
PROBE = 128  # held-out networks that estimate the basis size "auto" compares


def _map(fn: Callable, items: Sequence, workers: int) -> list:
    """``fn`` over ``items`` in ``workers`` threads (the caller holds BLAS to one thread each: threaded
    OpenBLAS was measured 10–100× slower on small products and LAPACK calls while other jobs run)."""
    if workers <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, items))


def _powers(fits: Sequence) -> np.ndarray:
    """(N, R) normalised squared spectra ``p = s²/‖s²‖₂``, descending, zero-padded to the largest rank."""
    P = np.zeros((len(fits), max(len(f.s) for f in fits)))
    for i, f in enumerate(fits):
        s2 = (np.asarray(f.s, np.float64) / f.s[0]) ** 2
        P[i, : len(s2)] = s2 / np.linalg.norm(s2)
    return P


def _normalised(f, p: np.ndarray, k: int) -> np.ndarray:
    """``A = U diag(√p)``, its first ``k`` columns, float64."""
    return np.asarray(f.U[:, :k], np.float64) * np.sqrt(p[:k])


# ---------------------------------------------------------------------------------------------
# "features": per-network truncation


def _kept_and_dropped(P: np.ndarray, ranks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``p[:k]`` and ``p[k:]`` of each row, both starting at column 0 and zero-padded."""
    R = P.shape[1]
    cols = np.arange(R)
    kept = np.where(cols < ranks[:, None], P, 0.0)
    shifted = cols[None, :] + ranks[:, None]
    dropped = np.where(shifted < R, np.take_along_axis(P, np.minimum(shifted, R - 1), axis=1), 0.0)
    return kept, dropped


def choose_ranks(fits: Sequence, tolerance: float) -> np.ndarray:
    """The fewest leading components per network such that every pair's bound is ≤ ``tolerance``.

    A pair's bound ``Δ/2`` is at most the mean of its networks' shares, a network's share being
    ``min(ε, β)``: ``ε = ‖p[k:]‖₂`` (Cauchy–Schwarz) or ``β = p[k:] · max_population(p)`` (the
    elementwise largest ``p`` of all networks, which bounds every partner's ``p``).
    """
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be a non-negative number, got {tolerance!r}")
    P = _powers(fits)
    N, R = P.shape
    rank = np.array([len(f.s) for f in fits])
    envelope = P.max(axis=0)
    share = np.empty((N, R + 1))  # share[:, k]: the network's share when it keeps k components
    for k in range(R + 1):
        tail = P[:, k:]
        share[:, k] = np.minimum(np.linalg.norm(tail, axis=1), tail @ envelope[: R - k])
    share[np.arange(R + 1)[None, :] >= rank[:, None]] = 0.0  # all components kept: no error
    share[:, 0] = np.inf  # keep at least one
    return np.argmax(share <= tolerance, axis=1)


def _feature_numerators(fits, P, ranks, dtype, block: int, workers: int) -> np.ndarray:
    """``‖A_iᵀ A_j‖_F²`` (truncated) for every pair: tiles of ``Zt Ztᵀ`` (``Zt``: the stacked
    ``A_iᵀ``, Σk × samples), squared and summed per (k_i × k_j) sub-block; upper tile triangle only."""
    n = len(fits)
    offsets = np.concatenate([[0], np.cumsum(ranks)])
    Zt = np.empty((offsets[-1], fits[0].U.shape[0]), dtype)
    for i, f in enumerate(fits):
        Zt[offsets[i] : offsets[i + 1]] = _normalised(f, P[i], int(ranks[i])).T
    cuts = [0]  # chunks of whole networks, about ``block`` rows of Zt each
    for i in range(1, n):
        if offsets[i] - offsets[cuts[-1]] >= block:
            cuts.append(i)
    chunks = list(zip(cuts, cuts[1:] + [n]))
    M = np.zeros((n, n))

    def tile(ab):
        (i0, i1), (j0, j1) = chunks[ab[0]], chunks[ab[1]]
        G = Zt[offsets[i0] : offsets[i1]] @ Zt[offsets[j0] : offsets[j1]].T
        np.square(G, out=G)
        G = np.add.reduceat(G, offsets[j0:j1] - offsets[j0], axis=1)
        G = np.add.reduceat(G.astype(np.float64), offsets[i0:i1] - offsets[i0], axis=0)
        M[i0:i1, j0:j1] = G
        M[j0:j1, i0:i1] = G.T

    _map(tile, [(a, b) for a in range(len(chunks)) for b in range(a, len(chunks))], workers)
    return 0.5 * (M + M.T)  # a tile on the diagonal holds (i, j) and (j, i), rounded differently


# ---------------------------------------------------------------------------------------------
# "kernel": a shared basis of sample space


def shared_basis(fits: Sequence, P: np.ndarray, n_basis: int = 256, max_basis: int = 1024, workers: int = 1):
    """The leading ``max_basis`` eigenvectors of ``Σ A Aᵀ`` over ``n_basis`` networks drawn at random
    (float32, then made orthonormal in float64 by QR, which keeps every leading span), then zero
    columns up to a multiple of ``STEP`` (they change nothing); and the indices of those networks."""
    chosen = np.sort(np.random.default_rng(0).choice(len(fits), min(n_basis, len(fits)), replace=False))

    def gram(part):
        Z = np.hstack([_normalised(fits[i], P[i], len(fits[i].s)).astype(np.float32) for i in part])
        return Z @ Z.T

    S = sum(_map(gram, np.array_split(chosen, workers), workers))
    _, V = np.linalg.eigh(S)
    Q, _ = np.linalg.qr(V[:, ::-1][:, :max_basis].astype(np.float64))
    return np.hstack([Q, np.zeros((len(Q), -Q.shape[1] % STEP))]), chosen


def _residuals(fits, P, Q, idx, r_cap: int, keep: bool, workers: int, group: int = 64):
    """For the networks ``idx`` and each ``r`` in ``STEP, 2 STEP, …, r_cap``: ``w²`` and ``ρ²``
    (len(idx), r_cap/STEP) of the module docstring, and (if ``keep``) ``C_x = Q[:, :r_cap]ᵀ A_x`` in
    float32 (len(idx), r_cap, R). With ``G = C_xᵀC_x`` (first r rows) and ``R_xᵀR_x = diag(p) − G``
    (``A_xᵀA_x = diag(p)``): ``w² = Σ p_a G_aa − ‖G‖²``, ``ρ⁴ = ‖p‖² − 2 Σ p_a G_aa + ‖G‖²``, float64."""
    R, n_steps = P.shape[1], r_cap // STEP
    Qt = np.ascontiguousarray(Q[:, :r_cap].T)
    w2, rho2 = np.zeros((len(idx), n_steps)), np.zeros((len(idx), n_steps))
    C_all = np.zeros((len(idx), r_cap, R), np.float32) if keep else None

    def run(g0):
        members = idx[g0 : g0 + group]
        p = P[members]
        A = np.zeros((Q.shape[0], len(members), R))
        for m, i in enumerate(members):
            A[:, m, : len(fits[i].s)] = _normalised(fits[i], P[i], len(fits[i].s))
        C = (Qt @ A.reshape(Q.shape[0], -1)).reshape(r_cap, len(members), R).transpose(1, 0, 2)
        if keep:
            C_all[g0 : g0 + len(members)] = C
        G = np.zeros((len(members), R, R))
        for b in range(n_steps):
            rows = C[:, b * STEP : (b + 1) * STEP]
            G += rows.transpose(0, 2, 1) @ rows
            pg, gg = np.einsum("ga,gaa->g", p, G), np.sum(G * G, axis=(1, 2))
            w2[g0 : g0 + len(members), b] = np.maximum(pg - gg, 0.0)
            rho2[g0 : g0 + len(members), b] = np.sqrt(np.maximum(np.sum(p * p, axis=1) - 2 * pg + gg, 0.0))

    _map(run, range(0, len(idx), group), workers)
    return w2, rho2, C_all


def _projection_half_width(w2: np.ndarray, rho2: np.ndarray) -> np.ndarray:
    """Per ``r`` (column), the largest ``2 w_x w_y + ρ_x²ρ_y²/2`` over pairs (from the top two networks)."""

    def top_two(a):
        a = -np.sort(-a, axis=0)
        return a[0] * a[min(1, len(a) - 1)]

    return 2 * np.sqrt(top_two(w2)) + top_two(rho2) / 2


def _kernel_numerators(C: np.ndarray, r: int, dtype, workers: int, chunk_bytes: int = 2**27) -> np.ndarray:
    """``c = ⟨C_xC_xᵀ, C_yC_yᵀ⟩`` for every pair: the upper triangles of the r × r Gram matrices
    (off-diagonal entries × √2) in chunks of rows, one syrk per chunk."""
    N = len(C)
    C = np.ascontiguousarray(C[:, :r])
    Ct = np.ascontiguousarray(C.transpose(0, 2, 1))
    entries = np.cumsum(np.arange(r, 0, -1))  # upper-triangle entries in rows < i + 1
    per_chunk = max(r, chunk_bytes // (4 * N))
    cuts = np.unique(np.concatenate([[0], np.searchsorted(entries, np.arange(per_chunk, entries[-1], per_chunk)), [r]]))

    def chunk(bounds):
        i0, i1 = bounds
        K = np.matmul(C[:, i0:i1], Ct)  # (N, i1 - i0, r)
        a, b = np.nonzero(np.arange(r)[None, :] >= np.arange(i0, i1)[:, None])
        V = K[:, a, b].astype(dtype)
        V[:, b > a + i0] *= np.sqrt(2.0)
        return (V @ V.T).astype(np.float64)

    return sum(_map(chunk, list(zip(cuts[:-1], cuts[1:])), workers))


def _kernel_bounds(fits, P, tolerance, n_basis, max_basis, dtype, workers, info, force):
    """``(lower, upper)`` CKA of every pair through a shared basis; None where no basis of at most
    ``max_basis`` directions meets ``tolerance``, or (unless ``force``) where the probe on held-out
    networks predicts more operations than truncation (``info["features_cost"]``)."""
    n, R = P.shape
    samples = fits[0].U.shape[0]
    Q, chosen = shared_basis(fits, P, n_basis, max_basis, workers)
    full = Q.shape[1]
    held_out = np.setdiff1d(np.arange(n), chosen)[:PROBE]
    w2, rho2, _ = _residuals(fits, P, Q, held_out if len(held_out) else chosen, full, False, workers)
    ok = np.flatnonzero(_projection_half_width(w2, rho2) <= tolerance)
    if not len(ok):
        return None
    r_est = STEP * (ok[0] + 1)
    r_cap = min(full, -(-int(1.25 * r_est) // STEP) * STEP)
    info["kernel_cost"] = n * n / 2 * r_est * (r_est + 1) / 2 + 2 * n * samples * R * r_cap
    if not force and info["kernel_cost"] >= info["features_cost"]:
        return None
    while True:  # the probe is an estimate: grow the basis until every pair is within tolerance
        w2, rho2, C = _residuals(fits, P, Q, np.arange(n), r_cap, True, workers)
        ok = np.flatnonzero(_projection_half_width(w2, rho2) <= tolerance)
        if len(ok):
            break
        if r_cap == full:
            return None
        r_cap = min(full, 2 * r_cap)
    step = ok[0]
    r = STEP * (step + 1)
    if not force and n * n / 2 * r * (r + 1) / 2 >= info["features_cost"]:
        return None
    c = np.maximum(_kernel_numerators(C, int(r), dtype, workers), 0.0)
    ww = np.sqrt(np.outer(w2[:, step], w2[:, step]))  # w_x w_y
    q2 = np.outer(rho2[:, step], rho2[:, step])  # (ρ_x ρ_y)²
    lower = np.maximum(c - 2 * ww, np.maximum(np.sqrt(c) - np.sqrt(q2), 0.0) ** 2)
    upper = np.minimum(np.minimum(c + 2 * ww + q2, (np.sqrt(c) + np.sqrt(q2)) ** 2), 1.0)
    info.update(method="kernel", basis=r)
    return lower, upper


# ---------------------------------------------------------------------------------------------


def pairwise_linear_cka(
    fits: Sequence,
    tolerance: float | None = 1e-3,
    *,
    method: str = "auto",
    dtype=np.float32,
    n_basis: int = 256,
    max_basis: int = 1024,
    block: int = 4096,
    workers: int | None = None,
    details: bool = False,
):
    """Linear CKA distances (1 − CKA) between all pairs, each within a returned bound of exact.

    **Arguments:**

    - ``fits``: N ``Fitted`` (``U`` samples × rank, ``s`` descending), all with the same samples.
    - ``tolerance``: the largest error allowed on any entry (``0`` or ``None``: exact up to rounding).
    - ``method``: ``"features"`` (truncation), ``"kernel"`` (shared basis; truncation where no basis
      of at most ``max_basis`` directions suffices) or ``"auto"`` (the cheaper by an operation
      count, after probing the basis on held-out networks).
    - ``dtype``: of the large products; ``n_basis``: networks the basis is built from; ``block``:
      rows per GEMM tile (features); ``workers``: threads, one BLAS thread each (default: cores).
    - ``details``: also return a dict (method, kept components or basis size, operation counts).

    **Returns:** ``(D, bound)``, both (N, N), symmetric with zero diagonals, ``|D − D_exact| ≤ bound
    ≤ tolerance`` (plus float32 rounding, ~1e-6).
    """
    n = len(fits)
    if n < 2:
        raise ValueError(f"pairwise_linear_cka needs at least 2 representations, got {n}")
    if len({f.U.shape[0] for f in fits}) != 1:
        raise ValueError("every representation must have the same number of samples")
    if method not in ("auto", "features", "kernel"):
        raise ValueError(f"method must be 'auto', 'features' or 'kernel', got {method!r}")
    tolerance = tolerance or 0.0
    workers = workers or os.cpu_count() or 1
    with threadpool_limits(1):
        P = _powers(fits)
        ranks = choose_ranks(fits, tolerance) if tolerance else np.array([len(f.s) for f in fits])
        samples, R = fits[0].U.shape[0], P.shape[1]
        info = {"features_cost": samples * float(ranks.sum()) ** 2 / 2}  # multiply-adds
        # building and probing a basis costs about (auto skips it for small populations):
        overhead = min(n, n_basis) * R * samples**2 + 4 * samples**3 + 2 * min(n, PROBE) * samples * R * max_basis
        if tolerance > 0 and (method == "kernel" or (method == "auto" and info["features_cost"] > overhead)):
            bounds = _kernel_bounds(fits, P, tolerance, n_basis, max_basis, dtype, workers, info, method == "kernel")
            if bounds is not None:
                return _finish(*bounds, info, details)
        M = _feature_numerators(fits, P, ranks, dtype, block, workers)
        kept, dropped = _kept_and_dropped(P, ranks)
        delta = kept @ dropped.T + dropped @ P.T
        info.update(method="features", ranks=ranks)
        return _finish(M, np.minimum(M + np.minimum(delta, delta.T), 1.0), info, details)


def _finish(lower, upper, info, details):
    lower = np.minimum(np.maximum(lower, 0.0), upper)
    D = np.clip(1.0 - 0.5 * (lower + upper), 0.0, 1.0)
    bound = 0.5 * (upper - lower)
    np.fill_diagonal(D, 0.0)
    np.fill_diagonal(bound, 0.0)
    return (D, bound, info) if details else (D, bound)
