"""Linearised dynamics around a fixed point: ``δh_{t+1} = J δh_t + B δx_t``.

- ``oscillatory_mode``: the complex pair whose eigenplane best aligns with the plane a recorded
  oscillation spans, with its frequency ``|angle(λ)| / (2π dt)`` and modulus ``|λ|`` (the sine task).
- ``oscillation_frequency``: the frequency of the pair of largest |λ| (kept for comparison).
- ``mode_truncated_response``: the readout ``n_steps`` after a unit input pulse, keeping only the
  k modes of largest |λ| for every k (the CDI's Fig. 3f).
- ``linearise``: ``J`` and ``B`` of any ``step(h, x)`` at a point, in float64.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Inexact

from paperlib.dynamics.fixed_points import cast, precision


def linearise(
    step: Callable[[Array, Array], Array], h, x, *, x64: bool = True
) -> tuple[Float[np.ndarray, "n n"], Float[np.ndarray, "n m"]]:
    """The Jacobians of ``step`` at the state ``h`` and input ``x``.

    **Returns:** ``J = ∂step/∂h`` (state × state) and ``B = ∂step/∂x`` (state × inputs), computed
    by forward-mode differentiation in float64 (``x64=False``: float32), as the fixed-point search.
    """
    dtype, context = precision(x64=x64)
    with context:
        f = cast(step, dtype)
        h, x = jnp.asarray(h, dtype), jnp.asarray(x, dtype)
        return np.asarray(jax.jacfwd(f)(h, x)), np.asarray(jax.jacfwd(f, argnums=1)(h, x))


def oscillation_frequency(eigenvalues, dt: float) -> float:
    """Frequency in Hz of the complex eigenvalue of largest |λ| (NaN if all are real)."""
    if not dt > 0:
        raise ValueError(f"dt must be positive, got {dt!r}")
    values = np.asarray(eigenvalues).ravel()
    complex_ = values[np.abs(values.imag) > 1e-9]
    if len(complex_) == 0:
        return float("nan")
    leading = complex_[np.argmax(np.abs(complex_))]
    return float(abs(np.angle(leading)) / (2 * np.pi * dt))


def oscillatory_mode(
    eigenvalues: Inexact[np.ndarray, " n"],
    right_eigenvectors: Inexact[np.ndarray, "n n"],
    trajectory: Float[np.ndarray, "t n"],
    dt: float,
) -> tuple[float, float, int]:
    """The complex pair that carries an oscillation: ``(frequency_hz, modulus, index)``.

    ``trajectory`` is (samples × units) of the oscillation (e.g. the second half of a probe
    trial). For each complex eigenvalue ``λ`` with ``Im λ > 0`` and right eigenvector ``v``, its
    real eigenplane is span(Re v, Im v); the pair chosen is the one whose plane best aligns with
    the span of the trajectory's top two principal components (largest sum of squared cosines of
    the principal angles between the planes), not the one of largest |λ|. ``index`` points into
    ``eigenvalues``. All NaN (index −1) when there is no complex pair.
    """
    if not dt > 0:
        raise ValueError(f"dt must be positive, got {dt!r}")
    values = np.asarray(eigenvalues).ravel()
    right = np.asarray(right_eigenvectors)
    X = np.asarray(trajectory, np.float64)
    if right.shape != (len(values), len(values)) or X.ndim != 2 or X.shape[1] != len(values) or len(X) < 3:
        raise ValueError(
            f"need eigenvalues (n,), right eigenvectors (n × n) as columns and a trajectory "
            f"(samples × n) with at least 3 samples; got {values.shape}, {right.shape}, {X.shape}"
        )
    candidates = np.flatnonzero(values.imag > 1e-9)
    if len(candidates) == 0:
        return float("nan"), float("nan"), -1
    _, _, vt = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)
    pcs = vt[:2].T  # (n, 2), orthonormal
    alignment = []
    for i in candidates:
        plane, _ = np.linalg.qr(np.stack([right[:, i].real, right[:, i].imag], axis=1))
        alignment.append(np.sum((plane.T @ pcs) ** 2))
    best = int(candidates[int(np.argmax(alignment))])
    return float(abs(np.angle(values[best])) / (2 * np.pi * dt)), float(abs(values[best])), best


def mode_truncated_response(
    eigenvalues,
    right,
    left,
    input_vector: Float[np.ndarray, " n"],
    readout: Float[np.ndarray, " n"],
    n_steps: int,
) -> Float[np.ndarray, " n"]:
    """Readout ``n_steps`` after a unit input pulse, keeping the top-k modes, for k = 1 … N.

    With ``J = R diag(λ) L``, a pulse ``b`` evolves to ``Σ_i λ_i^t r_i (l_i · b)``; entry k−1 of the
    result keeps the k modes of largest |λ| (the eigenvalues must come sorted by |λ| descending,
    as ``FixedPoints`` stores them). The last entry is the full linear response.
    """
    values = np.asarray(eigenvalues)
    if np.any(np.diff(np.abs(values)) > 1e-9):
        raise ValueError("eigenvalues must be sorted by |λ| descending")
    b, w = np.asarray(input_vector, np.float64), np.asarray(readout, np.float64)
    contributions = (values**n_steps) * (np.asarray(left) @ b) * (w @ np.asarray(right))
    return np.real(np.cumsum(contributions))
