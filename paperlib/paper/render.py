"""Claims as others read them: JSON-ready dicts, the book's HTML table, and a Markdown verdict table.

Knows no claim: it walks a ``Claim``'s ``evidence`` dataclass, its deciding fields first, each
shown by its field's label (``paperlib.paper.evidence``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from html import escape

import numpy as np

from paperlib.analysis.distances import LabelTests
from paperlib.paper.claims import Claim
from paperlib.similarity.clustering import ClusterTest

COLOURS = {True: "green", False: "crimson", None: "darkorange"}


def plain(x):
    """``x`` as JSON values: dataclasses as dicts, floats to 4 significant digits, NaN as None."""
    if isinstance(x, LabelTests):
        return {label: plain(t) for label, t in dataclasses.asdict(x).items() if t is not None}
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: plain(getattr(x, f.name)) for f in dataclasses.fields(x)}
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.floating, float)):
        return None if not np.isfinite(x) else float(f"{float(x):.4g}")
    if isinstance(x, (np.integer, int)):
        return int(x)
    if isinstance(x, (list, tuple, np.ndarray)):
        return [plain(v) for v in x]
    return x


def fields(evidence, which: bool) -> dict[str, object]:
    """The evidence's deciding (``which=True``) or beside (``False``) fields, by name."""
    if not dataclasses.is_dataclass(evidence):
        return {}
    return {
        f.name: getattr(evidence, f.name)
        for f in dataclasses.fields(evidence)
        if f.metadata.get("deciding", False) == which
    }


def p_values(evidence) -> dict[str, dict[str, float]]:
    """``{task: {test: p}}`` of the deciding clustering tests of a claim (empty for other claims)."""
    out: dict[str, dict[str, float]] = {}
    for name, value in fields(evidence, True).items():
        if isinstance(value, ClusterTest):  # C5: one test per field, on the flip-flop networks
            out.setdefault("flipflop", {})[name] = value.p_value
        elif isinstance(value, dict):
            for task, per in value.items():
                if isinstance(per, LabelTests):
                    tests = {label: t for label, t in dataclasses.asdict(per).items() if t is not None}
                    out.setdefault(task, {}).update({label: t["p_value"] for label, t in tests.items()})
                elif isinstance(per, ClusterTest):
                    out.setdefault(task, {})[name] = per.p_value
    return out


def as_dict(claim: Claim) -> dict:
    """A claim as plain values: id, claim, verdict, rule, the paper's sentence, the deciding ``values``,
    the ``beside`` values, the deciding ``p_value`` per task (clustering claims), reading, caveat."""
    out = {
        "id": claim.id,
        "claim": claim.claim,
        "holds": claim.holds,
        "verdict": claim.verdict,
        "rule": claim.rule,
        "paper": claim.paper,
        "values": plain(fields(claim.evidence, True)),
        "beside": plain(fields(claim.evidence, False)),
        "reading": claim.reading,
        "caveat": claim.caveat,
    }
    p = p_values(claim.evidence)
    if p:
        out["p_value"] = p
    return out


def _label(evidence, name: str) -> str:
    return next(f.metadata.get("label", name) for f in dataclasses.fields(evidence) if f.name == name)


def _numbers(value, depth: int = 0) -> str:
    """Numbers as short readable HTML: ``architecture: accuracy 0.83 (chance 0.22), p 0.0001``."""
    if isinstance(value, ClusterTest):
        return (
            f"accuracy {value.accuracy:.2f} (chance {value.chance:.2f}), <b>p {value.p_value:.4f}</b>, "
            f"silhouette {value.silhouette:.2f}"
        )
    if value is None:
        return "not measurable"
    if isinstance(value, LabelTests):
        value = {label: t for label, t in dataclasses.asdict(value).items() if t is not None}
        value = {label: ClusterTest(**t) for label, t in value.items()}
    elif dataclasses.is_dataclass(value):
        value = {f.name.replace("_", " "): getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        separator = "; " if depth else "<br>"
        return separator.join(
            f"<b>{escape(str(k))}</b> — {_numbers(v, depth + 1)}"
            if isinstance(v, (dict, LabelTests))
            else f"{escape(str(k))}: {_numbers(v, depth + 1)}"
            for k, v in value.items()
        )
    return escape(str(plain(value)))


def evidence_html(claim: Claim, which: bool = True) -> str:
    """The deciding (or beside) numbers of a claim as HTML, each under its field's label."""
    chosen = fields(claim.evidence, which)
    return "<br>".join(
        f"<i>{escape(_label(claim.evidence, name))}</i>: {_numbers(value, 1)}" for name, value in chosen.items()
    )


def _beside_html(claim: Claim) -> str:
    """The numbers reported beside the verdict, folded (not deciding)."""
    shown = evidence_html(claim, which=False)
    return f"<details><summary>reported beside, not deciding</summary>{shown}</details>" if shown else ""


def html_table(claims: Sequence[Claim], beside: dict[str, Sequence[Claim]] | None = None) -> str:
    """The claims as an HTML table: claim, verdict, the deciding numbers, the paper's sentence.

    ``beside``: other populations' claims by name (e.g. ``{"small": [...]}``), each verdict shown in
    a column of its own next to the main one.
    """
    beside = beside or {}
    others = {name: {c.id: c for c in claims_} for name, claims_ in beside.items()}

    def verdict(c: Claim | None) -> str:
        if c is None:
            return "<td>–</td>"
        return f"<td style='color:{COLOURS[c.holds]}'><b>{c.verdict}</b></td>"

    rows = "".join(
        f"<tr><td><b>{c.id}</b><br>{escape(c.claim)}</td>{verdict(c)}"
        + "".join(verdict(o.get(c.id)) for o in others.values())
        + f"<td style='font-size:85%'>{evidence_html(c)}<br><i>Rule: {escape(c.rule)}.</i>{_beside_html(c)}"
        f"{'<br>' + escape(c.reading) if c.reading else ''}"
        f"{'' if c.holds or not c.caveat else '<br><i>Scale: ' + escape(c.caveat) + '.</i>'}</td>"
        f"<td style='font-size:85%'>“{escape(c.paper)}”</td></tr>"
        for c in claims
    )
    head = (
        "<tr><th>claim</th><th>verdict</th>"
        + "".join(f"<th>{escape(name)}</th>" for name in others)
        + "<th>measured here (deciding numbers)</th><th>the paper</th></tr>"
    )
    return f"<table class='claims'>{head}{rows}</table>"


def summary(claims: Sequence[Claim]) -> str:
    """One line: ``C1 holds; C2 does not hold; …``."""
    return "; ".join(f"{c.id} {c.verdict}" for c in claims)


def markdown_table(columns: dict[str, Sequence[Claim]]) -> str:
    """A Markdown verdict table, one column of verdicts per population (the README's table)."""
    names = list(columns)
    first = columns[names[0]]
    by_name = {name: {c.id: c for c in claims} for name, claims in columns.items()}
    lines = [
        "| claim | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for c in first:
        cells = [by_name[name][c.id].verdict if c.id in by_name[name] else "–" for name in names]
        lines.append(f"| {c.id} {c.claim} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
