"""Shared figure conventions: one colour per architecture and per activation."""

from __future__ import annotations

import matplotlib.pyplot as plt

ARCHITECTURE_COLORS = {"vanilla": "#1b9e77", "ugrnn": "#d95f02", "gru": "#7570b3", "lstm": "#e7298a"}
ACTIVATION_COLORS = {"tanh": "#1f78b4", "relu": "#e31a1c"}
ARCHITECTURE_NAMES = {"vanilla": "Vanilla", "ugrnn": "UGRNN", "gru": "GRU", "lstm": "LSTM"}
UNSTABLE_COLORS = {0: "black", 1: "red", 2: "green", 3: "blue"}  # Fig. 1e: unstable dimensions


def panel_title(ax: plt.Axes, letter: str, text: str) -> None:
    """Title a panel with its letter, as in the paper (``"1a"`` → ``"(1a) text"``)."""
    ax.set_title(f"({letter}) {text}", loc="left", fontsize=11)


def style() -> None:
    """The house style for every notebook."""
    plt.rcParams.update(
        {
            "figure.dpi": 110,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": 11,
            "font.size": 9,
        }
    )
