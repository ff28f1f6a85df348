"""The paper's claims measured on trained populations: rules v2 (fixed 2026-11-26; C3 changed 2026-12-04).

The rules are in the book's Methods (:ref:`methods-claims`), with their dated change log
(:ref:`methods-rule-changes`); each is one function
here, of the typed results ``paperlib.analysis`` computes, returning a ``Claim`` whose ``evidence``
(``paperlib.paper.evidence``) names the numbers it read. Rendering (JSON, HTML, text) is
``paperlib.paper.render``; nothing here computes an analysis of its own.

- ``measure_claims(data, profile)``: C1–C8, each computed once from the cached analyses.
- ``beyond_the_paper(data, profile)``: D1 (DSA), a claim the paper did not make.
- Clustering (C2, C3, C5, D1) is ``paperlib.analysis.label_tests``: a label *clusters* when its
  permutation p-value is below ``ALPHA``; architecture among the tanh networks, activation among
  the Vanilla ones.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.stats import mannwhitneyu
from tqdm import tqdm

from paperlib.analysis.cdi import CdiLines, cdi_lines
from paperlib.analysis.distances import (
    DECIDING,
    TRUNCATIONS,
    Geometry,
    LabelTests,
    dsa_geometry,
    geometry,
    svcca_sensitivity,
)
from paperlib.analysis.flipflop import (
    FlipFlopTopology,
    ModalTanhTests,
    flipflop_topology,
    modal_tanh_tests,
    transport_topology,
)
from paperlib.analysis.sine import SineLinearisation, output_frequencies, sine_linearisation
from paperlib.analysis.untrained import TrainedVsUntrained, trained_vs_untrained
from paperlib.dynamics.topology import modal_count_mask
from paperlib.paper import evidence as ev
from paperlib.similarity import dsa
from paperlib.training.profiles import TASK_NAMES, get_profile
from paperlib.training.store import Population, TaskStore, population

#: A label clusters when the permutation p-value is below this.
ALPHA = 0.05
#: Normalised MSE under which a flip-flop or CDI network has learned.
LOSS_THRESHOLD = 0.05


@dataclasses.dataclass(frozen=True)
class Statement:
    """A claim as the paper makes it and as it is measured here: the rule is fixed before any run."""

    claim: str
    paper: str  # the paper's sentence
    rule: str
    tasks: tuple[str, ...]  # the populations it reads


STATEMENTS: dict[str, Statement] = {
    "C1": Statement(
        "all retained networks reach low error",
        "All networks achieve low error for their respective tasks. (Appendix C)",
        "flip-flop and CDI: normalised MSE < 0.05; sine: output at the cued frequency (±5%) on ≥ 90% of cues; "
        "≥ 90% of the networks trained for every task learn (a diverged network has not learned)",
        TASK_NAMES,
    ),
    "C2": Statement(
        "SVCCA geometry clusters by architecture and by activation",
        "These SVCCA MDS summaries show systematic differences in the representations across both architecture "
        "and activation. (§3.2; also §3.1, §3.3)",
        "SVCCA at 95% of variance clusters both labels on every task (permutation p < 0.05); beside it, "
        "not deciding: p at 99%, at k = 10 and k = 20 components, and the kept widths",
        TASK_NAMES,
    ),
    "C3": Statement(
        "CKA agrees with SVCCA on that clustering",
        "The key takeaway is that both SVCCA and CKA show differences between network representations that "
        "cluster based on RNN architectures. (Appendix E)",
        "linear CKA clusters architecture on every task (permutation p < 0.05); activation reported beside it, "
        "not deciding (change of 2026-12-04)",
        TASK_NAMES,
    ),
    "C4": Statement(
        "flip-flop networks share one topology: 8 stable points plus saddles",
        "The network solves the task by encoding all possible outputs as 8 stable fixed points. [...] Networks "
        "with different numbers of fixed points than the modal number were discarded (less than 10% of the "
        "population). (§3.1)",
        "≥ 90% of networks have the modal fixed-point count and ≥ 90% have exactly 8 stable points, one per "
        "corner of the output cube",
        ("flipflop",),
    ),
    "C5": Statement(
        "topology does not cluster by architecture",
        "Using this topological measure of RNN similarity, we find that all architectures converge to very "
        "similar solutions as shown by an MDS embedding of the fixed point graph (Fig. 1f). (§3.1)",
        "on the modal-count tanh networks, the topology distance does not cluster architecture (p ≥ 0.05) while "
        "SVCCA on the same networks does (p < 0.05); not measurable with fewer than 3 networks per architecture",
        ("flipflop",),
    ),
    "C6": Statement(
        "sine: one mildly unstable oscillatory mode per cue, linear frequency ≈ cued frequency",
        "We studied the linearized dynamics around each fixed point and found a single pair of imaginary "
        "eigenvalues, representing a mildly unstable oscillatory mode whose complex angle aligned well with "
        "the input frequency (Fig. 2d, right). (§3.2)",
        "pooled over networks and cues: Pearson r ≥ 0.9 between linear and cued frequency and median "
        "|linear / cued − 1| ≤ 0.2; and in ≥ 80% of (network, cue) the chosen pair has 1 < |λ| ≤ 1.1 and is "
        "the only complex pair with |λ| > 1 + 1e-3",
        ("sine",),
    ),
    "C7": Statement(
        "CDI: a mode with λ ≈ 1 per context; gated cells have more eigenvalues near 1 than Vanilla",
        "We found similar results to [4] for the vanilla RNN, which integrated the input using a single linear "
        "mode with an eigenvalue of 1 [...] the gated architectures had many more eigenvalues near 1 (Fig. 3e). "
        "(§3.3)",
        "a context integrates when at ≥ 50% of its line points some eigenvalue has |λ − 1| < 0.05; ≥ 90% of "
        "networks integrate in both contexts; and each gated architecture's count of eigenvalues with "
        "|λ − 1| < 0.05 (per network: mean over its line points and contexts) exceeds Vanilla's, one-sided "
        "Mann–Whitney p < 0.05",
        ("cdi",),
    ),
    "C8": Statement(
        "trained and untrained relu networks can be closer in SVCCA than trained relu and trained tanh",
        "We found that the average canonical correlation between trained and untrained networks can be larger "
        "than between trained RNNs with different nonlinearities. (§3.3, Fig. 4)",
        "mean SVCCA distance (95% of variance) trained relu ↔ untrained relu < trained relu ↔ trained tanh, "
        "Vanilla networks driven by the CDI probe inputs; the same at 99% and k = 10, 20 reported beside it",
        ("cdi",),
    ),
    "D1": Statement(
        "beyond the paper: DSA, like the fixed-point topology, does not separate architectures",
        "Finally, we find considerably more universality across architectures in the topological structure of "
        "fixed points, limit cycles, and specific properties of the linearized dynamics about fixed points. (§1) "
        "Measured with DSA: Via four case studies, we demonstrate that our method effectively identifies and "
        "distinguishes dynamic structure in recurrent neural networks (RNNs), whereas geometric methods fall short. "
        "(Ostrow et al., NeurIPS 2023, abstract)",
        "on every task, the architecture label among the tanh networks does not cluster on DSA distances "
        "(angular; delays 4, rank 16; permutation p >= 0.05); beside it, not deciding: DSA's p for activation "
        "and SVCCA's p for architecture (as C2)",
        TASK_NAMES,
    ),
}
CLUSTER_READING = "nearest-neighbour accuracy of the label, its chance level and permutation p-value, per task"


@dataclasses.dataclass(frozen=True)
class Claim:
    """One claim's verdict: ``holds`` is True, False, or None (not measurable: ``reading`` says why).

    ``evidence`` holds the numbers the rule read (its deciding fields) and those reported beside
    them; ``caveat`` says how the profile departs from the paper in ways that bear on the claim.
    """

    id: str
    holds: bool | None
    evidence: object
    reading: str = ""
    caveat: str = ""

    @property
    def statement(self) -> Statement:
        return STATEMENTS[self.id]

    @property
    def claim(self) -> str:
        return self.statement.claim

    @property
    def paper(self) -> str:
        return self.statement.paper

    @property
    def rule(self) -> str:
        return self.statement.rule

    @property
    def verdict(self) -> str:
        return {True: "holds", False: "does not hold", None: "not measurable"}[self.holds]

    def as_dict(self) -> dict:
        """The claim as plain JSON-ready values (``paperlib.paper.render.as_dict``)."""
        from paperlib.paper.render import as_dict

        return as_dict(self)


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


def _clusters_everywhere(tests: dict[str, LabelTests], labels: tuple[str, ...]) -> bool | None:
    """True when every ``labels`` test clusters on every task; None when one of them could not be run."""
    chosen = [t.get(label) for t in tests.values() for label in labels]
    if any(t is None for t in chosen):
        return None
    return all(t.p_value < ALPHA for t in chosen)


def c1(pops: dict[str, Population], trained: dict[str, int]) -> Claim:
    """Appendix C: "All networks achieve low error for their respective tasks."

    ``trained``: per task, the networks trained (diverged ones included), from the manifests.
    """
    learned = {}
    for task, pop in pops.items():
        if task == "sine":
            ok = output_frequencies(pop).ok.mean(axis=1) >= 0.9
        else:
            ok = pop.column("validation_loss") < LOSS_THRESHOLD
        learned[task] = int(np.sum(ok))
    fraction = {t: learned[t] / trained[t] if trained[t] else float("nan") for t in pops}
    return Claim(
        "C1",
        holds=all(f >= 0.9 for f in fraction.values()),
        evidence=ev.Learning(
            fraction_learned=fraction,
            learned=learned,
            trained={t: trained[t] for t in pops},
            retained={t: len(p) for t, p in pops.items()},
        ),
    )


def c2(pops: dict[str, Population]) -> Claim:
    """§3.1-3.3: SVCCA MDS "show systematic differences in the representations across both architecture
    and activation"."""
    tests, others, w95, w99 = {}, {}, {}, {}
    for task, pop in pops.items():
        sens = svcca_sensitivity(pop)
        tests[task] = sens.deciding.tests
        others[task] = {t.id: sens.by_truncation[t.id].tests for t in TRUNCATIONS if t != DECIDING}
        w95[task], w99[task] = (
            ev.KeptWidths(int(w.min()), float(np.median(w)), int(w.max())) for w in (sens.width_95, sens.width_99)
        )
    held_out = {task: geometry(pop, "svcca", held_out=True).tests for task, pop in pops.items()}
    return Claim(
        "C2",
        holds=_clusters_everywhere(tests, ("architecture", "activation")),
        evidence=ev.SvccaClustering(
            tests=tests, by_truncation=others, kept_width_95=w95, kept_width_99=w99, held_out=held_out
        ),
        reading=CLUSTER_READING,
    )


def c3(pops: dict[str, Population]) -> Claim:
    """Appendix E: "both SVCCA and CKA show differences between network representations that cluster
    based on RNN architectures".

    Decided on architecture alone, as the sentence reads (rules v2, change of 2026-12-04); the
    activation test is reported beside it, not deciding.
    """
    tests = {task: geometry(pop, "cka").tests for task, pop in pops.items()}
    return Claim(
        "C3",
        holds=_clusters_everywhere(tests, ("architecture",)),
        evidence=ev.ArchitectureClustering(
            architecture={t: v.architecture for t, v in tests.items()},
            activation={t: v.activation for t, v in tests.items()},
            held_out={task: geometry(pop, "cka", held_out=True).tests for task, pop in pops.items()},
        ),
        reading=CLUSTER_READING,
    )


def c4(topo: FlipFlopTopology, pop: Population) -> Claim:
    """§3.1: "encoding all possible outputs as 8 stable fixed points", under 10% set aside."""
    arch = pop.column("architecture")
    eight = topo.eight_corners
    return Claim(
        "C4",
        holds=bool(topo.modal.mean() >= 0.9 and eight.mean() >= 0.9),
        evidence=ev.FlipFlopCounts(
            modal_count=topo.modal_count,
            fraction_modal=float(topo.modal.mean()),
            fraction_8_stable_corners=float(eight.mean()),
            counts=topo.n_points.tolist(),
            fraction_modal_at_003=float(modal_count_mask(topo.counts_by_rule[0.03]).mean()),
            fraction_modal_at_03=float(modal_count_mask(topo.counts_by_rule[0.3]).mean()),
            fraction_lattice=float(np.mean(topo.lattice)),
            fraction_zero_memories=float(np.mean(topo.zero_memories > 0)),
            mean_unsettled=float(topo.unsettled.mean()),
            by_architecture={
                a: ev.ArchitectureCounts(
                    eight_stable_corners=float(eight[arch == a].mean()),
                    mean_stable=float(topo.n_stable[arch == a].mean()),
                    mean_points=float(topo.n_points[arch == a].mean()),
                )
                for a in dict.fromkeys(arch)
            },
        ),
        reading="points with speed · T ≤ 0.1 · r; stable: no |λ| > 1 + 1e-3; corners: stable points whose every "
        "output is beyond ±0.5, counted by sign pattern",
    )


def c5(
    tests: ModalTanhTests, topo: FlipFlopTopology, every: Geometry | None = None, svcca: LabelTests | None = None
) -> Claim:
    """§3.1: "all architectures converge to very similar solutions" (Fig. 1f).

    ``every``, ``svcca``: beside the rule, not deciding, the same test over every network by the
    transport topology distance (``analysis.transport_topology``) and by SVCCA (C2's).
    """
    evidence = ev.TopologyAgainstGeometry(
        tests.topology,
        tests.svcca,
        tests.per_architecture,
        every_network_topology=None if every is None else every.tests.architecture,
        every_network_svcca=None if svcca is None else svcca.architecture,
    )
    if not tests.measurable:
        return Claim(
            "C5",
            holds=None,
            evidence=evidence,
            reading=f"not measurable: fewer than 3 modal-count tanh networks in some architecture "
            f"(modal count {topo.modal_count})",
        )
    return Claim("C5", holds=bool(tests.topology.p_value >= ALPHA and tests.svcca.p_value < ALPHA), evidence=evidence)


def c6(sine: SineLinearisation) -> Claim:
    """§3.2: "a single pair of imaginary eigenvalues, representing a mildly unstable oscillatory mode whose
    complex angle aligned well with the input frequency"."""
    ok = np.isfinite(sine.linear)
    r = sine.pearson_r
    median = float(np.median(sine.relative_error)) if ok.any() else float("nan")
    fraction = float(sine.mild.mean())
    return Claim(
        "C6",
        holds=bool(r >= 0.9 and median <= 0.2 and fraction >= 0.8),
        evidence=ev.SineModes(
            pearson_r=r,
            median_relative_error=median,
            fraction_single_mild_pair=fraction,
            cues=len(sine.cues),
            fraction_with_fixed_point=float(ok.mean()),
            median_modulus=float(np.nanmedian(sine.modulus)),
            fraction_only_growing_pair=float(sine.only_pair.mean()),
        ),
        reading="the oscillatory mode is the complex pair whose eigenplane best aligns with the top two principal "
        "components of the cue's steady oscillation, at the fixed point nearest its centre",
    )


def c7(lines: CdiLines, pop: Population) -> Claim:
    """§3.3: the Vanilla RNN integrates with "a single linear mode with an eigenvalue of 1"; "the gated
    architectures had many more eigenvalues near 1"."""
    arch = pop.column("architecture")
    integrates_both = lines.integrates.all(axis=1)
    per_net = lines.near_one_per_network
    vanilla = per_net[(arch == "vanilla") & np.isfinite(per_net)]
    gated = {}
    for a in dict.fromkeys(arch):
        if a == "vanilla":
            continue
        values = per_net[(arch == a) & np.isfinite(per_net)]
        p = (
            float(mannwhitneyu(values, vanilla, alternative="greater").pvalue)
            if len(values) and len(vanilla)
            else float("nan")
        )
        gated[a] = ev.GatedAgainstVanilla(float(values.mean()) if len(values) else float("nan"), p)
    fraction = float(integrates_both.mean())
    measurable = len(vanilla) > 0 and all(np.isfinite(g.p_value) for g in gated.values())
    return Claim(
        "C7",
        holds=(bool(fraction >= 0.9 and all(g.p_value < ALPHA for g in gated.values())) if measurable else None),
        evidence=ev.LineIntegration(
            fraction_integrating_both=fraction,
            vanilla_mean_near_one=float(vanilla.mean()) if len(vanilla) else float("nan"),
            gated=gated,
            median_line_points=float(np.median(lines.n_points)),
            integrating_by_architecture={a: float(integrates_both[arch == a].mean()) for a in dict.fromkeys(arch)},
        ),
        reading="line points sampled by letting the dynamics settle until slow (speed · T ≤ 0.1 · r), deduplicated "
        "at 0.01 · r",
    )


def c8(tvu: TrainedVsUntrained) -> Claim:
    """§3.3, Fig. 4: "the average canonical correlation between trained and untrained networks can be larger
    than between trained RNNs with different nonlinearities"."""
    m = tvu.means[DECIDING.id]
    near, far = m.relu_to_untrained_relu, m.relu_to_tanh
    return Claim(
        "C8",
        holds=bool(near < far),
        evidence=ev.UntrainedDistances(near=near, far=far, by_truncation=dict(tvu.means)),
    )


#: The DSA settings of D1, fixed with its rule before any population was compared by DSA.
D1_OPTIONS = dsa.DSAOptions(n_delays=4, delay_interval=1, rank=16)


def d1(pops: dict[str, Population]) -> Claim:
    """Beyond the paper: the dissociation of §3 measured with the metric made for it (DSA, Ostrow et al. 2023)."""
    tests = {task: dsa_geometry(pop, D1_OPTIONS).tests for task, pop in pops.items()}
    svcca = {task: svcca_sensitivity(pop).deciding.tests.architecture for task, pop in pops.items()}
    arch = {t: v.architecture for t, v in tests.items()}
    return Claim(
        "D1",
        holds=all(t.p_value >= ALPHA for t in arch.values()) if all(t is not None for t in arch.values()) else None,
        evidence=ev.ArchitectureClustering(
            architecture=arch,
            activation={t: v.activation for t, v in tests.items()},
            svcca_architecture_p={t: s.p_value for t, s in svcca.items() if s is not None},
        ),
        reading="nearest-neighbour accuracy of the architecture, its chance level and permutation p-value, per task",
    )


def beyond_the_paper(data: str | Path, profile: str, tasks: Sequence[str] = TASK_NAMES) -> list[Claim]:
    """Claims the paper did not make, measured with its populations: D1 (DSA). Cached like C1-C8."""
    return [d1({t: population(data, profile, t) for t in tasks})]


def book_analyses(data: str | Path, profile: str, tasks: Sequence[str] = TASK_NAMES, progress: bool = True) -> None:
    """Compute (or load) every cached analysis the book's pages read for ``profile`` (of the
    populations of ``tasks``): those of C1-C8 and D1, and the geometries Appendix E shows beside
    them. ``python -m paperlib verify --analyses`` recomputes a release's shipped analyses with it."""
    steps = [
        ("claims C1-C8", lambda: measure_claims(data, profile, tasks)),
        ("D1 (DSA)", lambda: beyond_the_paper(data, profile, tasks)),
        *(
            (
                f"{task} Procrustes",
                lambda task=task: [
                    geometry(population(data, profile, task), "procrustes", held_out=h) for h in (False, True)
                ],
            )
            for task in tasks
        ),
    ]
    bar = tqdm(steps, desc="book analyses", disable=not progress)
    for label, step in bar:
        bar.set_postfix_str(label)
        step()


def _unmeasured(claim: Claim, missing: dict[str, str]) -> Claim:
    """``claim`` measured without the populations of ``missing`` tasks (task: why): a rule over every
    task that already fails stays failed (no task can restore it); one that holds so far is not yet decided."""
    if not missing or claim.holds is False:
        return claim
    reading = f"not decided: {'; '.join(missing.values())}; measured on the others. {claim.reading}"
    return dataclasses.replace(claim, holds=None, reading=reading.strip())


def incomplete_tasks(data: str | Path, profile: str, tasks: Sequence[str] = TASK_NAMES) -> dict[str, str]:
    """The tasks whose population at ``profile`` is not wholly trained under ``data`` (task: why): a
    claim never reads part of a grid (e.g. a release still training, or a stopped run)."""
    grid = get_profile(profile)
    out = {}
    for task in tasks:
        expected = grid.networks(task)
        stored = len(TaskStore(data, profile, task).rows())
        if 0 < stored < expected:  # none at all: ``population`` says to train it first
            out[task] = f"the {task} population is incomplete ({stored} of {expected} networks trained)"
    return out


def measure_claims(data: str | Path, profile: str, tasks: Sequence[str] = TASK_NAMES) -> list[Claim]:
    """Measure C1–C8 on the populations stored under ``data`` at ``profile``.

    **Arguments:**

    - ``data``: the data directory ``python -m paperlib train`` filled.
    - ``profile``: a name of ``paperlib.training.PROFILES``.
    - ``tasks``: the tasks whose populations are read (default: all three). With fewer, or where a
      task's population is not wholly trained (``incomplete_tasks``), a claim of a missing task is
      *not measured*, and a claim over every task (C1-C3) is decided only where it already fails.

    **Returns:** eight ``Claim``s, C1 to C8, each with ``holds`` (True, False, or None: not
    measurable, ``reading`` says why) and its ``evidence``. Analyses are computed once and cached
    in ``data``.

    ```python
    from paperlib.paper.claims import measure_claims
    for claim in measure_claims("data", "small"):
        print(claim.id, claim.verdict, claim.claim)
    ```
    """
    unknown = sorted(set(tasks) - set(TASK_NAMES))
    if unknown or not tasks:
        raise ValueError(f"tasks must be a non-empty subset of {TASK_NAMES}, got {tuple(tasks)}")
    missing = {t: f"no {t} population" for t in TASK_NAMES if t not in tasks}
    missing |= incomplete_tasks(data, profile, [t for t in TASK_NAMES if t in tasks])
    pops = {t: population(data, profile, t) for t in TASK_NAMES if t not in missing}
    topology = functools.cache(lambda: flipflop_topology(pops["flipflop"]))  # read by C4 and C5
    measure = {
        "C1": lambda: c1(pops, {t: len(TaskStore(data, profile, t).rows()) for t in pops}),
        "C2": lambda: c2(pops),
        "C3": lambda: c3(pops),
        "C4": lambda: c4(topology(), pops["flipflop"]),
        "C5": lambda: c5(
            modal_tanh_tests(topology(), pops["flipflop"]),
            topology(),
            transport_topology(topology(), pops["flipflop"]),
            svcca_sensitivity(pops["flipflop"]).deciding.tests,
        ),
        "C6": lambda: c6(sine_linearisation(pops["sine"])),
        "C7": lambda: c7(cdi_lines(pops["cdi"]), pops["cdi"]),
        "C8": lambda: c8(trained_vs_untrained(pops["cdi"])),
    }
    notes = caveats(profile)
    claims = []
    for id, compute in measure.items():
        needs = STATEMENTS[id].tasks
        lacking = {t: why for t, why in missing.items() if t in needs}
        if len(lacking) == len(needs):
            claim = Claim(
                id, None, ev.MissingTasks(tuple(lacking)), reading=f"not measured: {'; '.join(lacking.values())}"
            )
        else:
            claim = _unmeasured(compute(), lacking)
        claims.append(dataclasses.replace(claim, caveat=notes.get(id, "")))
    return claims
