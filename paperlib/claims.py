"""The paper's claims measured on a trained population: SPEC.md §6, rules v2 (fixed 2026-11-26; C3 changed 2026-12-04).

- ``measure_claims(data, profile)``: one ``Claim`` per id C1–C8, whether it holds by its rule.
- ``c1`` … ``c8``: one function per claim, each citing the paper's sentence it measures; the
  analyses they read live in ``paperlib.figures`` and ``paperlib.analysis``.
- Clustering (C2, C3, C5) is ``paperlib.embedding.cluster_test``: a label *clusters* when its
  permutation p-value is below ``ALPHA``; architecture is scored among the tanh networks,
  activation among the Vanilla ones.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.stats import mannwhitneyu

from paperlib import analysis, dsa, figures
from paperlib.embedding import ClusterTest, cluster_test
from paperlib.profiles import TASK_NAMES, get_profile
from paperlib.store import Population, TaskStore, population
from paperlib.topology import modal_count_mask

#: A label clusters when the permutation p-value is below this.
ALPHA = 0.05
#: Normalised MSE under which a flip-flop or CDI network has learned.
LOSS_THRESHOLD = 0.05


@dataclasses.dataclass(frozen=True)
class Claim:
    """One claim's verdict: ``holds`` is True, False, or None (not measurable: ``reading`` says why)."""

    id: str
    claim: str
    paper: str  # the paper's sentence this claim measures
    rule: str
    holds: bool | None
    deciding: dict  # the numbers the rule reads
    beside: dict = dataclasses.field(default_factory=dict)  # reported, not deciding
    reading: str = ""
    caveat: str = ""  # how this profile departs from the paper in ways that bear on the claim

    @property
    def verdict(self) -> str:
        return {True: "holds", False: "does not hold", None: "not measurable"}[self.holds]

    def as_dict(self) -> dict:
        out = {
            "id": self.id,
            "claim": self.claim,
            "holds": self.holds,
            "verdict": self.verdict,
            "rule": self.rule,
            "paper": self.paper,
            "values": _plain(self.deciding),
            "beside": _plain(self.beside),
            "reading": self.reading,
            "caveat": self.caveat,
        }
        p = _p_values(self.deciding)
        if p:
            out["p_value"] = p
        return out


def _p_values(values: dict) -> dict:
    """``{task: {label: p}}`` from the deciding numbers of a clustering claim."""
    out = {}
    for task, per in values.items():
        if isinstance(per, dict):
            ps = {
                label: v.p_value if isinstance(v, ClusterTest) else v["p_value"]
                for label, v in per.items()
                if isinstance(v, ClusterTest) or (isinstance(v, dict) and "p_value" in v)
            }
            if ps:
                out[task] = ps
    return out


def _plain(x):
    if isinstance(x, ClusterTest):
        return _plain(dataclasses.asdict(x))
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.floating, float)):
        return None if not np.isfinite(x) else float(f"{float(x):.4g}")
    if isinstance(x, (np.integer, int)):
        return int(x)
    if isinstance(x, (list, tuple, np.ndarray)):
        return [_plain(v) for v in x]
    return x


def caveats(profile: str) -> dict[str, str]:
    """Per claim, what a reduced profile changes from the paper that may explain a miss (none for ``paper``).

    A claim about one task's training (C1, C4, C6, C7) carries a caveat only where that task trains
    differently from the paper (fewer than 20,000 iterations, fixed settings instead of the search,
    another optimiser or a curriculum); the population claims (C2, C3, C5, C8) wherever the grid is smaller.
    """
    prof, paper = get_profile(profile), get_profile("paper")
    if prof.name == "paper":
        return {}
    iterations = {task: sum(s.config.n_iterations for s in plan.stages) for task, plan in prof.plans}

    def as_paper(task: str) -> bool:
        plan = prof.plan(task)
        return plan.search is not None and plan.stages == paper.plan(task).stages and not plan.optimizers

    out = {}
    if not all(as_paper(t) for t in iterations):
        out["C1"] = (
            f"training is shorter than the paper's 20,000 iterations ({iterations['flipflop']:,} flip-flop, "
            f"{iterations['sine']:,} sine, {iterations['cdi']:,} CDI), with the settings in the profile's description"
        )
    if (prof.units, prof.l2s, prof.seeds) != (paper.units, paper.l2s, paper.seeds):
        seeds, sizes, l2s = len(prof.seeds), len(prof.units), len(prof.l2s)
        group = (
            f"{seeds * sizes * l2s} networks per architecture × activation ({seeds} seeds × {sizes} size(s) × "
            f"{l2s} L2 value(s); the paper: 360 = 30 × 3 × 4)"
        )
        out.update(C2=group, C3=group, C8=group, C5=f"measured on the modal-count tanh networks only: {group}")
    if not as_paper("flipflop"):
        out["C4"] = (
            f"{iterations['flipflop']:,} flip-flop iterations instead of 20,000 and no L2 search: networks may hold "
            f"extra stable or slow points beside the 8 corners"
        )
    if not as_paper("sine"):
        out["C6"] = (
            f"sine trained for {iterations['sine']:,} iterations with the profile's optimiser and curriculum "
            f"instead of 20,000 of SGD"
        )
    if not as_paper("cdi"):
        out["C7"] = (
            f"{iterations['cdi']:,} CDI iterations instead of 20,000: the integrating mode may not yet sit at λ ≈ 1"
        )
    return out


def by_label(D: np.ndarray, pop: Population, mask: np.ndarray | None = None) -> dict[str, ClusterTest]:
    """The clustering test of architecture (tanh networks) and of activation (Vanilla networks) on ``D``."""
    arch, act = pop.column("architecture"), pop.column("activation")
    mask = np.ones(len(pop), bool) if mask is None else mask
    out = {}
    for label, subset, values in (("architecture", act == "tanh", arch), ("activation", arch == "vanilla", act)):
        idx = np.flatnonzero(subset & mask)
        if len(idx) >= 3 and len(set(values[idx])) >= 2:
            out[label] = cluster_test(D[np.ix_(idx, idx)], values[idx])
    return out


def _clusters_everywhere(
    tests: dict[str, dict[str, ClusterTest]], labels: tuple[str, ...] = ("architecture", "activation")
) -> bool | None:
    """True when every ``labels`` test clusters on every task; None when one of them could not be run."""
    if any(set(per) != set(labels) for per in tests.values()):
        return None
    return all(t.p_value < ALPHA for per in tests.values() for t in per.values())


def c1(pops: dict, data, profile: str) -> Claim:
    """Appendix C: "All networks achieve low error for their respective tasks." """
    learned, trained = {}, {}
    for task, pop in pops.items():
        stored = TaskStore(data, profile, task).rows()
        trained[task] = len(stored)
        if task == "sine":
            ok = analysis.output_frequencies(pop).ok.mean(axis=1) >= 0.9
        else:
            ok = pop.column("validation_loss") < LOSS_THRESHOLD
        learned[task] = int(np.sum(ok))
    fraction = {t: learned[t] / trained[t] if trained[t] else float("nan") for t in pops}
    return Claim(
        "C1",
        "all retained networks reach low error",
        paper="All networks achieve low error for their respective tasks. (Appendix C)",
        rule="flip-flop and CDI: normalised MSE < 0.05; sine: output at the cued frequency (±5%) on ≥ 90% of cues; "
        "≥ 90% of the networks trained for every task learn (a diverged network has not learned)",
        holds=all(f >= 0.9 for f in fraction.values()),
        deciding={"fraction_learned": fraction},
        beside={"learned": learned, "trained": trained, "retained": {t: len(p) for t, p in pops.items()}},
    )


def c2(pops: dict) -> Claim:
    """§3.1-3.3: SVCCA MDS "show systematic differences in the representations across both architecture
    and activation"."""
    tests, beside = {}, {}
    for task, pop in pops.items():
        sens = figures.svcca_sensitivity(pop)
        tests[task] = by_label(sens.distances["95% variance"], pop)
        beside[task] = {
            name: {label: t.p_value for label, t in by_label(D, pop).items()}
            for name, D in sens.distances.items()
            if name != "95% variance"
        }
        for level, widths in (("95%", sens.width_95), ("99%", sens.width_99)):
            beside[task][f"kept width at {level} (min, median, max)"] = [
                int(widths.min()),
                float(np.median(widths)),
                int(widths.max()),
            ]
    return Claim(
        "C2",
        "SVCCA geometry clusters by architecture and by activation",
        paper="These SVCCA MDS summaries show systematic differences in the representations across both architecture "
        "and activation. (§3.2; also §3.1, §3.3)",
        rule="SVCCA at 95% of variance clusters both labels on every task (permutation p < 0.05); beside it, "
        "not deciding: p at 99%, at k = 10 and k = 20 components, and the kept widths",
        holds=_clusters_everywhere(tests),
        deciding=tests,
        beside=beside,
        reading="nearest-neighbour accuracy of the label, its chance level and permutation p-value, per task",
    )


def c3(pops: dict) -> Claim:
    """Appendix E: "both SVCCA and CKA show differences between network representations that cluster
    based on RNN architectures".

    Decided on architecture alone, as the sentence reads (rules v2, change of 2026-12-04); the
    activation test is reported beside it, not deciding.
    """
    tests, beside = {}, {}
    for task, pop in pops.items():
        per = by_label(analysis.distance_matrix(pop, "cka"), pop)
        tests[task] = {k: v for k, v in per.items() if k == "architecture"}
        beside[task] = {k: v for k, v in per.items() if k != "architecture"}
    return Claim(
        "C3",
        "CKA agrees with SVCCA on that clustering",
        paper="The key takeaway is that both SVCCA and CKA show differences between network representations that "
        "cluster based on RNN architectures. (Appendix E)",
        rule="linear CKA clusters architecture on every task (permutation p < 0.05); activation reported beside it, "
        "not deciding (change of 2026-12-04)",
        holds=_clusters_everywhere(tests, labels=("architecture",)),
        deciding=tests,
        beside=beside,
        reading="nearest-neighbour accuracy of the label, its chance level and permutation p-value, per task",
    )


def c4(topo: figures.FlipFlopTopology, pop: Population) -> Claim:
    """§3.1: "encoding all possible outputs as 8 stable fixed points", under 10% set aside."""
    arch = pop.column("architecture")
    eight = topo.eight_corners
    return Claim(
        "C4",
        "flip-flop networks share one topology: 8 stable points plus saddles",
        paper="The network solves the task by encoding all possible outputs as 8 stable fixed points. [...] Networks "
        "with different numbers of fixed points than the modal number were discarded (less than 10% of the "
        "population). (§3.1)",
        rule="≥ 90% of networks have the modal fixed-point count and ≥ 90% have exactly 8 stable points, one per "
        "corner of the output cube",
        holds=bool(topo.modal.mean() >= 0.9 and eight.mean() >= 0.9),
        deciding={
            "modal_count": topo.modal_count,
            "fraction_modal": float(topo.modal.mean()),
            "fraction_8_stable_corners": float(eight.mean()),
        },
        beside={
            "counts": topo.n_points.tolist(),
            "modal fraction at slow-point rule 0.03 / 0.3": [
                float(modal_count_mask(topo.counts_by_rule[f]).mean()) for f in (0.03, 0.3)
            ],
            "fraction with the paper's 27-point lattice (8/12/6/1)": float(np.mean(topo.lattice)),
            "fraction with stable zero memories": float(np.mean(topo.zero_memories > 0)),
            "mean unsettled fraction of perturbed runs": float(topo.unsettled.mean()),
            "by_architecture": {
                a: {
                    "8 stable corners": float(eight[arch == a].mean()),
                    "mean stable": float(topo.n_stable[arch == a].mean()),
                    "mean points": float(topo.n_points[arch == a].mean()),
                }
                for a in dict.fromkeys(arch)
            },
        },
        reading="points with speed · T ≤ 0.1 · r; stable: no |λ| > 1 + 1e-3; corners: stable points whose every "
        "output is beyond ±0.5, counted by sign pattern",
    )


def c5(topo: figures.FlipFlopTopology, pop: Population) -> Claim:
    """§3.1: "all architectures converge to very similar solutions" (Fig. 1f)."""
    arch, act = pop.column("architecture"), pop.column("activation")
    mask = topo.modal & (act == "tanh")
    per_arch = {a: int(np.sum(mask & (arch == a))) for a in dict.fromkeys(arch[act == "tanh"])}
    paper = (
        "Using this topological measure of RNN similarity, we find that all architectures converge to very "
        "similar solutions as shown by an MDS embedding of the fixed point graph (Fig. 1f). (§3.1)"
    )
    rule = (
        "on the modal-count tanh networks, the topology distance does not cluster architecture (p ≥ 0.05) while "
        "SVCCA on the same networks does (p < 0.05); not measurable with fewer than 3 networks per architecture"
    )
    if min(per_arch.values(), default=0) < 3:
        return Claim(
            "C5",
            "topology does not cluster by architecture",
            paper=paper,
            rule=rule,
            holds=None,
            deciding={"modal tanh networks per architecture": per_arch},
            reading=f"not measurable: fewer than 3 modal-count tanh networks in some architecture "
            f"(modal count {topo.modal_count})",
        )
    idx = np.flatnonzero(mask)
    topology = cluster_test(topo.distances[np.ix_(idx, idx)], arch[idx])
    svcca = cluster_test(analysis.distance_matrix(pop, "svcca")[np.ix_(idx, idx)], arch[idx])
    return Claim(
        "C5",
        "topology does not cluster by architecture",
        paper=paper,
        rule=rule,
        holds=bool(topology.p_value >= ALPHA and svcca.p_value < ALPHA),
        deciding={"flipflop": {"topology architecture": topology, "SVCCA architecture": svcca}},
        beside={"modal tanh networks per architecture": per_arch},
    )


def c6(sine: figures.SineLinearisation) -> Claim:
    """§3.2: "a single pair of imaginary eigenvalues, representing a mildly unstable oscillatory mode whose
    complex angle aligned well with the input frequency"."""
    ok = np.isfinite(sine.linear)
    r = sine.pearson_r
    median = float(np.median(sine.relative_error)) if ok.any() else float("nan")
    fraction = float(sine.mild.mean())
    return Claim(
        "C6",
        "sine: one mildly unstable oscillatory mode per cue, linear frequency ≈ cued frequency",
        paper="We studied the linearized dynamics around each fixed point and found a single pair of imaginary "
        "eigenvalues, representing a mildly unstable oscillatory mode whose complex angle aligned well with "
        "the input frequency (Fig. 2d, right). (§3.2)",
        rule="pooled over networks and cues: Pearson r ≥ 0.9 between linear and cued frequency and median "
        "|linear / cued − 1| ≤ 0.2; and in ≥ 80% of (network, cue) the chosen pair has 1 < |λ| ≤ 1.1 and is "
        "the only complex pair with |λ| > 1 + 1e-3",
        holds=bool(r >= 0.9 and median <= 0.2 and fraction >= 0.8),
        deciding={"pearson_r": r, "median_relative_error": median, "fraction_single_mild_pair": fraction},
        beside={
            "cues": len(sine.cues),
            "fraction of (network, cue) with a fixed point": float(ok.mean()),
            "median modulus of the chosen pair": float(np.nanmedian(sine.modulus)),
            "fraction where it is the only growing pair": float(sine.only_pair.mean()),
        },
        reading="the oscillatory mode is the complex pair whose eigenplane best aligns with the top two principal "
        "components of the cue's steady oscillation, at the fixed point nearest its centre",
    )


def c7(lines: figures.CdiLines, pop: Population) -> Claim:
    """§3.3: the Vanilla RNN integrates with "a single linear mode with an eigenvalue of 1"; "the gated
    architectures had many more eigenvalues near 1"."""
    arch = pop.column("architecture")
    integrates_both = lines.integrates.all(axis=1)
    per_net = lines.near_one_per_network
    vanilla = per_net[(arch == "vanilla") & np.isfinite(per_net)]
    tests = {}
    for a in dict.fromkeys(arch):
        if a == "vanilla":
            continue
        gated = per_net[(arch == a) & np.isfinite(per_net)]
        p = (
            float(mannwhitneyu(gated, vanilla, alternative="greater").pvalue)
            if len(gated) and len(vanilla)
            else float("nan")
        )
        tests[a] = {"mean count near 1": float(gated.mean()) if len(gated) else float("nan"), "p_value": p}
    fraction = float(integrates_both.mean())
    measurable = len(vanilla) > 0 and all(np.isfinite(t["p_value"]) for t in tests.values())
    return Claim(
        "C7",
        "CDI: a mode with λ ≈ 1 per context; gated cells have more eigenvalues near 1 than Vanilla",
        paper="We found similar results to [4] for the vanilla RNN, which integrated the input using a single linear "
        "mode with an eigenvalue of 1 [...] the gated architectures had many more eigenvalues near 1 (Fig. 3e). "
        "(§3.3)",
        rule="a context integrates when at ≥ 50% of its line points some eigenvalue has |λ − 1| < 0.05; ≥ 90% of "
        "networks integrate in both contexts; and each gated architecture's count of eigenvalues with "
        "|λ − 1| < 0.05 (per network: mean over its line points and contexts) exceeds Vanilla's, one-sided "
        "Mann–Whitney p < 0.05",
        holds=(bool(fraction >= 0.9 and all(t["p_value"] < ALPHA for t in tests.values())) if measurable else None),
        deciding={
            "fraction integrating in both contexts": fraction,
            "vanilla mean count near 1": float(vanilla.mean()) if len(vanilla) else float("nan"),
            "gated vs vanilla": tests,
        },
        beside={
            "line points per context (median)": float(np.median(lines.n_points)),
            "by architecture, fraction integrating in both": {
                a: float(integrates_both[arch == a].mean()) for a in dict.fromkeys(arch)
            },
        },
        reading="line points sampled by letting the dynamics settle until slow (speed · T ≤ 0.1 · r), deduplicated "
        "at 0.01 · r",
    )


def c8(tvu: figures.TrainedVsUntrained) -> Claim:
    """§3.3, Fig. 4: "the average canonical correlation between trained and untrained networks can be larger
    than between trained RNNs with different nonlinearities"."""
    m = tvu.means["95% variance"]
    near, far = m["trained relu – untrained relu"], m["trained relu – trained tanh"]
    return Claim(
        "C8",
        "trained and untrained relu networks can be closer in SVCCA than trained relu and trained tanh",
        paper="We found that the average canonical correlation between trained and untrained networks can be larger "
        "than between trained RNNs with different nonlinearities. (§3.3, Fig. 4)",
        rule="mean SVCCA distance (95% of variance) trained relu ↔ untrained relu < trained relu ↔ trained tanh, "
        "Vanilla networks driven by the CDI probe inputs; the same at 99% and k = 10, 20 reported beside it",
        holds=bool(near < far),
        deciding={"trained relu – untrained relu": near, "trained relu – trained tanh": far},
        beside={
            name: {
                "trained relu – untrained relu": v["trained relu – untrained relu"],
                "trained relu – trained tanh": v["trained relu – trained tanh"],
            }
            for name, v in tvu.means.items()
            if name != "95% variance"
        },
    )


#: The DSA settings of D1, fixed with its rule before any population was compared by DSA.
D1_OPTIONS = dsa.DSAOptions(n_delays=4, delay_interval=1, rank=16)


def d1(pops: dict) -> Claim:
    """Beyond the paper: the dissociation of §3 measured with the metric made for it (DSA, Ostrow et al. 2023)."""
    tests, beside = {}, {}
    for task, pop in pops.items():
        per = by_label(analysis.dsa_matrix(pop, D1_OPTIONS), pop)
        tests[task] = {"architecture": per["architecture"]} if "architecture" in per else {}
        beside[task] = {"DSA activation p": per["activation"].p_value} if "activation" in per else {}
        svcca = by_label(figures.svcca_sensitivity(pop).distances["95% variance"], pop)
        if "architecture" in svcca:
            beside[task]["SVCCA architecture p (C2)"] = svcca["architecture"].p_value
    measurable = all(per for per in tests.values())
    return Claim(
        "D1",
        "beyond the paper: DSA, like the fixed-point topology, does not separate architectures",
        paper="Finally, we find considerably more universality across architectures in the topological structure of "
        "fixed points, limit cycles, and specific properties of the linearized dynamics about fixed points. (§1) "
        "Measured with DSA: Via four case studies, we demonstrate that our method effectively identifies and "
        "distinguishes dynamic structure in recurrent neural networks (RNNs), whereas geometric methods fall short. "
        "(Ostrow et al., NeurIPS 2023, abstract)",
        rule="on every task, the architecture label among the tanh networks does not cluster on DSA distances "
        "(angular; delays 4, rank 16; permutation p >= 0.05); beside it, not deciding: DSA's p for activation "
        "and SVCCA's p for architecture (as C2)",
        holds=all(per["architecture"].p_value >= ALPHA for per in tests.values()) if measurable else None,
        deciding=tests,
        beside=beside,
        reading="nearest-neighbour accuracy of the architecture, its chance level and permutation p-value, per task",
    )


def beyond_the_paper(data: str | Path, profile: str) -> list[Claim]:
    """Claims the paper did not make, measured with its populations: D1 (DSA). Cached like C1-C8."""
    return [d1({t: population(data, profile, t) for t in TASK_NAMES})]


# the tasks each claim reads (C1-C3 every task's population)
CLAIM_TASKS: dict[str, tuple[str, ...]] = {
    "C1": TASK_NAMES,
    "C2": TASK_NAMES,
    "C3": TASK_NAMES,
    "C4": ("flipflop",),
    "C5": ("flipflop",),
    "C6": ("sine",),
    "C7": ("cdi",),
    "C8": ("cdi",),
}


def _unmeasured(claim: Claim, missing: tuple[str, ...]) -> Claim:
    """``claim`` measured without the populations of ``missing`` tasks: a rule over every task that
    already fails stays failed (no task can restore it); one that holds so far is not yet decided."""
    if not missing or claim.holds is False:
        return claim
    reading = f"not decided: no {', '.join(missing)} population yet; measured on the others. {claim.reading}"
    return dataclasses.replace(claim, holds=None, reading=reading.strip())


def _not_measured(id: str, missing: tuple[str, ...]) -> Claim:
    return Claim(
        id,
        _CLAIM_NAMES[id],
        paper="",
        rule="",
        holds=None,
        deciding={},
        reading=f"not measured: no {', '.join(missing)} population yet",
    )


_CLAIM_NAMES = {
    "C4": "flip-flop networks share one topology: 8 stable points plus saddles",
    "C5": "topology does not cluster by architecture",
    "C6": "sine: one mildly unstable oscillatory mode per cue, linear frequency ≈ cued frequency",
    "C7": "CDI: a mode with λ ≈ 1 per context; gated cells have more eigenvalues near 1 than Vanilla",
    "C8": "trained and untrained relu networks can be closer in SVCCA than trained relu and trained tanh",
}


def measure_claims(data: str | Path, profile: str, tasks: Sequence[str] = TASK_NAMES) -> list[Claim]:
    """Measure C1–C8 on the populations stored under ``data`` at ``profile``.

    **Arguments:**

    - ``data``: the data directory ``python -m paperlib train`` filled.
    - ``profile``: ``"tiny"``, ``"small"``, ``"medium"`` or ``"paper"`` (``paperlib.profiles.PROFILES``).
    - ``tasks``: the tasks whose populations are read (default: all three). With fewer, as while a
      population is still training, a claim of a missing task is *not measured*, and a claim over
      every task (C1-C3) is decided only where it already fails (``_unmeasured``).

    **Returns:** eight ``Claim``s, C1 to C8, each with ``holds`` (True, False, or None: not
    measurable, ``reading`` says why), the numbers that decide it (``deciding``), those reported
    ``beside`` it, and the paper's sentence. Analyses are computed once and cached in ``data``.

    ```python
    from paperlib.claims import measure_claims
    for claim in measure_claims("data", "small"):
        print(claim.id, claim.verdict, claim.claim)
    ```
    """
    unknown = sorted(set(tasks) - set(TASK_NAMES))
    if unknown or not tasks:
        raise ValueError(f"tasks must be a non-empty subset of {TASK_NAMES}, got {tuple(tasks)}")
    pops = {t: population(data, profile, t) for t in TASK_NAMES if t in tasks}
    topology = functools.cache(lambda: figures.flipflop_topology(pops["flipflop"]))  # read by C4 and C5
    measure = {
        "C1": lambda: c1(pops, data, profile),
        "C2": lambda: c2(pops),
        "C3": lambda: c3(pops),
        "C4": lambda: c4(topology(), pops["flipflop"]),
        "C5": lambda: c5(topology(), pops["flipflop"]),
        "C6": lambda: c6(figures.sine_linearisation(pops["sine"])),
        "C7": lambda: c7(figures.cdi_lines(pops["cdi"]), pops["cdi"]),
        "C8": lambda: c8(figures.trained_vs_untrained(pops["cdi"])),
    }
    notes = caveats(profile)
    claims = []
    for id, needs in CLAIM_TASKS.items():
        missing = tuple(t for t in needs if t not in pops)
        if missing and len(missing) == len(needs):
            claim = _not_measured(id, missing)
        else:
            claim = _unmeasured(measure[id](), missing)
        claims.append(dataclasses.replace(claim, caveat=notes.get(id, "")))
    return claims


def _numbers(values: dict, depth: int = 0) -> str:
    """Deciding numbers as short readable text: ``task · label: acc 0.83 (chance 0.22), p 0.0001``."""
    from html import escape

    parts = []
    for key, v in values.items():
        if isinstance(v, ClusterTest):
            parts.append(
                f"{escape(str(key))}: accuracy {v.accuracy:.2f} (chance {v.chance:.2f}), "
                f"<b>p {v.p_value:.4f}</b>, silhouette {v.silhouette:.2f}"
            )
        elif isinstance(v, dict):
            parts.append(f"<b>{escape(str(key))}</b> — {_numbers(v, depth + 1)}")
        else:
            parts.append(f"{escape(str(key))}: {escape(str(_plain(v)))}")
    return ("<br>" if depth == 0 else "; ").join(parts)


def html_table(results: list[Claim]) -> str:
    """The claims as an HTML table: claim, verdict, the deciding numbers (p-values), the paper's sentence."""
    from html import escape

    colour = {True: "green", False: "crimson", None: "darkorange"}
    rows = "".join(
        f"<tr><td><b>{c.id}</b><br>{escape(c.claim)}</td>"
        f"<td style='color:{colour[c.holds]}'><b>{c.verdict}</b></td>"
        f"<td style='font-size:85%'>{_numbers(c.deciding)}<br><i>Rule: {escape(c.rule)}.</i>"
        f"{'<br>' + escape(c.reading) if c.reading else ''}"
        f"{'' if c.holds or not c.caveat else '<br><i>Scale: ' + escape(c.caveat) + '.</i>'}</td>"
        f"<td style='font-size:85%'>“{escape(c.paper)}”</td></tr>"
        for c in results
    )
    head = "<tr><th>claim</th><th>verdict</th><th>measured here (deciding numbers)</th><th>the paper</th></tr>"
    return f"<table class='claims'>{head}{rows}</table>"
