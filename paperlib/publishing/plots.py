"""Shared figure conventions: one colour per architecture and per activation."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

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


def group_colors(labels, palette: dict[str, str]) -> list[str]:
    return [palette.get(str(label), "0.5") for label in labels]


def mds_scatter(ax: plt.Axes, coords: np.ndarray, labels, palette: dict[str, str], names: dict | None = None) -> None:
    """2-D embedding coloured by label, with a legend in the palette's order."""
    labels = np.asarray(labels)
    for label in palette:
        mask = labels == label
        if mask.any():
            ax.scatter(
                *coords[mask, :2].T,
                s=28,
                color=palette[label],
                label=(names or {}).get(label, label),
                edgecolor="white",
                linewidth=0.5,
            )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(frameon=False, fontsize=8, loc="best")


def distance_heatmap(ax: plt.Axes, D: np.ndarray, groups, cmap: str = "viridis") -> None:
    """Distance matrix sorted by group, with group boundaries and names on the axes."""
    groups = np.asarray(groups)
    order = np.argsort(groups, kind="stable")
    image = ax.imshow(D[np.ix_(order, order)], cmap=cmap)
    sorted_groups = groups[order]
    edges = np.flatnonzero(sorted_groups[1:] != sorted_groups[:-1]) + 0.5
    for e in edges:
        ax.axhline(e, color="white", lw=0.8)
        ax.axvline(e, color="white", lw=0.8)
    starts = np.r_[0, edges + 0.5].astype(int)
    ends = np.r_[edges + 0.5, len(groups)].astype(int)
    ticks = (starts + ends - 1) / 2
    ax.set_xticks(ticks, sorted_groups[starts], rotation=90, fontsize=7)
    ax.set_yticks(ticks, sorted_groups[starts], fontsize=7)
    plt.colorbar(image, ax=ax, fraction=0.046, pad=0.04)


def mds_by_label(D: np.ndarray, architecture, activation, letter: str, title: str, tests=None, axes=None) -> None:
    """The paper's two embeddings of a distance matrix: by architecture among the tanh networks and
    by activation among the Vanilla networks (``paperlib.analysis.label_subsets``).

    ``tests``: the matrix's ``paperlib.analysis.LabelTests``, computed by the analysis the claims
    read; each panel's axis states its accuracy, chance level and permutation p-value."""
    from paperlib.analysis.distances import label_subsets
    from paperlib.similarity import mds

    arch, act = np.asarray(architecture), np.asarray(activation)
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(8, 3.6))
    subsets = label_subsets((arch, act))
    for ax, (label, labels, palette, what) in zip(
        axes,
        (
            ("architecture", arch, ARCHITECTURE_COLORS, "architecture (tanh)"),
            ("activation", act, ACTIVATION_COLORS, "activation (Vanilla)"),
        ),
    ):
        idx = subsets[label]
        if len(idx) >= 3 and len(set(labels[idx])) >= 2:
            mds_scatter(ax, mds(D[np.ix_(idx, idx)]), labels[idx], palette, ARCHITECTURE_NAMES)
            test = None if tests is None else tests.get(label)
            if test is not None:
                ax.set_xlabel(f"1-NN accuracy {test.accuracy:.2f} (chance {test.chance:.2f}), p = {test.p_value:.4f}")
        panel_title(ax, letter, f"{title} by {what}")
