"""The paper's claims, measured: rules over the typed results of ``paperlib.analysis``.

- ``claims``: one function per claim (C1–C8, and D1 beyond the paper), ``measure_claims``.
- ``evidence``: what each rule reads, as named fields (deciding, and reported beside).
- ``render``: the claims as JSON, the book's HTML table, a Markdown verdict table.

Imports the analysis floor and below; computes no analysis of its own.
"""

from paperlib.paper.claims import ALPHA, LOSS_THRESHOLD, STATEMENTS, Claim, beyond_the_paper, caveats, measure_claims

__all__ = ["ALPHA", "LOSS_THRESHOLD", "STATEMENTS", "Claim", "beyond_the_paper", "caveats", "measure_claims"]
