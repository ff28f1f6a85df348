"""Linearised dynamics around a fixed point: ``δh_{t+1} = J δh_t + B δx_t``.

- ``oscillation_frequency``: the frequency (Hz) of the leading complex eigenvalue pair,
  ``angle(λ) / (2π dt)``: what the sine task's linearisation predicts for the cued frequency.
- ``mode_truncated_response``: the readout of the linear system ``n_steps`` after a unit pulse
  on one input, keeping only the k modes of largest |λ| for every k (the CDI's Fig. 3f: how many
  modes carry the integration). Modes are zeroed from smallest to largest |λ|.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float


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


def mode_truncated_response(
    eigenvalues, right, left, input_vector: Float[np.ndarray, " n"], readout: Float[np.ndarray, " n"],
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
