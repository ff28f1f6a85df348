"""Argument checks shared by the configs: each raises ``ValueError`` naming the field and the range."""

from __future__ import annotations

import math

import numpy as np


def check_int(field: str, value, low: int = 1) -> None:
    """``value`` must be an integer ``>= low``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{field} must be an integer >= {low}, got {value!r}")


def check_number(field: str, value, low: float, high: float = math.inf, *, low_open: bool = False) -> None:
    """``value`` must be a finite number in ``[low, high]`` (``(low, high]`` if ``low_open``)."""
    is_number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    above = is_number and (value > low if low_open else value >= low)
    if not (above and math.isfinite(value) and value <= high):
        bracket = "(" if low_open else "["
        raise ValueError(f"{field} must be a finite number in {bracket}{low}, {high}], got {value!r}")


def check_choice(field: str, value, choices) -> str:
    """``value`` (case-insensitive) must be one of ``choices``; returns it lower-cased."""
    key = str(value).lower()
    if key not in choices:
        raise ValueError(f"{field} must be one of {list(choices)}, got {value!r}")
    return key
