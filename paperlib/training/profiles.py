"""The population scales (:ref:`methods-scales`) and how each trains every task, in one place.

- ``Profile`` (``tiny``, ``small``, ``paper64``, ``medium``, ``paper``): the grid of :ref:`methods-grid` (architectures
  × activations × units × L2 × seeds) and a ``TaskPlan`` per task; every reduction from the paper
  is stated in its ``description``.
- ``TaskPlan``: the ``Stage``s a task trains through (one for the paper; a curriculum over T for
  the small profile's sine wave) and fixed optimiser settings or a random ``SearchSpace``.
- ``Profile.work_units``: the grid as work units (``paperlib.training.units.WorkUnit``), one per configuration.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from paperlib._checks import check_int, check_number
from paperlib.models.cells import ACTIVATIONS, ARCHITECTURES
from paperlib.tasks import TASKS, ContextIntegration, FlipFlop, SineWave, Task
from paperlib.training.config import Hyperparameters, TrainConfig
from paperlib.training.units import WorkUnit

TASK_NAMES: tuple[str, ...] = tuple(TASKS)


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """The paper's random search (§2.1): log-uniform clip and initial rate, uniform decay and momentum.

    ``n_trials`` settings per configuration, each trained for ``n_iterations`` on one seed; the
    lowest validation loss wins (number of trials and their length: documented choices).
    """

    learning_rate: tuple[float, float] = (1e-5, 0.1)
    clip: tuple[float, float] = (0.1, 10.0)
    decay_rate: tuple[float, float] = (0.1, 0.9)
    momentum: tuple[float, float] = (0.0, 1.0)
    n_trials: int = 16
    n_iterations: int = 2_000

    def __post_init__(self):
        check_int("n_trials", self.n_trials)
        check_int("n_iterations", self.n_iterations)
        for field in ("learning_rate", "clip"):
            low, high = getattr(self, field)
            check_number(f"{field} (low end)", low, 0.0, high, low_open=True)
        for field, (low_bound, high_bound) in (("decay_rate", (0.0, 1.0)), ("momentum", (0.0, 1.0))):
            low, high = getattr(self, field)
            check_number(f"{field} (low end)", low, low_bound, high)
            check_number(f"{field} (high end)", high, low, high_bound)

    def sample(self, seed: int, l2: float) -> list[Hyperparameters]:
        rng = np.random.default_rng(seed)
        log_uniform = lambda lo, hi: float(np.exp(rng.uniform(np.log(lo), np.log(hi))))  # noqa: E731
        trials = []
        for _ in range(self.n_trials):
            trials.append(
                Hyperparameters(
                    learning_rate=log_uniform(*self.learning_rate),
                    clip=log_uniform(*self.clip),
                    decay_rate=max(float(rng.uniform(*self.decay_rate)), 1e-6),
                    momentum=float(rng.uniform(*self.momentum)),
                    l2=l2,
                )
            )
        return trials


@dataclasses.dataclass(frozen=True)
class Stage:
    """One training stage: the task it trains on, its settings, and a factor on the initial rate."""

    task: Task
    config: TrainConfig
    learning_rate_scale: float = 1.0


@dataclasses.dataclass(frozen=True)
class TaskPlan:
    """How a profile trains one task.

    ``stages`` run in order, each continuing from the last; the last stage's task is the one
    networks are validated and analysed on. ``settings`` maps an architecture (or
    ``"architecture-activation"``, which takes precedence) to fixed optimiser settings, whose L2
    is replaced by the grid's; with ``search`` they are found by random search instead.
    ``exclude`` lists ``(architecture, activation)`` pairs not trained on this task;
    ``optimizers`` maps ``"architecture-activation"`` to an optimiser replacing the stages' own.
    """

    stages: tuple[Stage, ...]
    settings: tuple[tuple[str, Hyperparameters], ...] = ()
    search: SearchSpace | None = None
    exclude: tuple[tuple[str, str], ...] = ()
    optimizers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        if not self.stages:
            raise ValueError("stages must hold at least one stage")
        if self.search is not None and len(self.stages) != 1:
            raise ValueError("search needs exactly one stage")
        if self.search is None and not self.settings:
            raise ValueError("a plan needs either fixed settings or a search")

    @property
    def task(self) -> Task:
        return self.stages[-1].task

    def stages_for(self, architecture: str, activation: str) -> tuple[Stage, ...]:
        """The stages one group trains with (its optimiser override applied)."""
        optimizer = dict(self.optimizers).get(f"{architecture}-{activation}")
        if optimizer is None:
            return self.stages
        return tuple(
            dataclasses.replace(s, config=dataclasses.replace(s.config, optimizer=optimizer)) for s in self.stages
        )

    def hyperparameters(self, architecture: str, activation: str, l2: float) -> Hyperparameters:
        table = dict(self.settings)
        hp = table.get(f"{architecture}-{activation}", table.get(architecture))
        if hp is None:
            raise ValueError(f"no optimiser settings for {architecture}-{activation}")
        return dataclasses.replace(hp, l2=l2)


@dataclasses.dataclass(frozen=True)
class Profile:
    """A population scale: the grid and a plan per task."""

    name: str
    architectures: tuple[str, ...]
    activations: tuple[str, ...]
    units: tuple[int, ...]
    l2s: tuple[float, ...]
    seeds: tuple[int, ...]
    plans: tuple[tuple[str, TaskPlan], ...]
    description: str = ""

    def plan(self, task: str) -> TaskPlan:
        plans = dict(self.plans)
        if task not in plans:
            raise ValueError(f"task must be one of {list(plans)}, got {task!r}")
        return plans[task]

    def work_units(self, task: str) -> list[WorkUnit]:
        plan = self.plan(task)
        return [
            WorkUnit(task, arch, act, n, l2, self.seeds)
            for arch in self.architectures
            for act in self.activations
            if (arch, act) not in plan.exclude
            for n in self.units
            for l2 in self.l2s
        ]

    def networks(self, task: str) -> int:
        """How many networks the grid trains for ``task``."""
        return sum(len(u.seeds) for u in self.work_units(task))

    @property
    def n_networks(self) -> int:
        return sum(self.networks(task) for task, _ in self.plans)


# The small profile's fixed settings (:ref:`methods-profile-small`), found by random search around
# the paper's ranges on this project's 2-core machines.
_SMALL_FLIPFLOP = (
    ("vanilla", Hyperparameters(learning_rate=0.18, momentum=0.84, clip=0.74, decay_rate=0.64)),
    ("ugrnn", Hyperparameters(learning_rate=0.34, momentum=0.92, clip=1.37, decay_rate=0.37)),
    ("gru", Hyperparameters(learning_rate=0.36, momentum=0.91, clip=0.89, decay_rate=0.62)),
    ("lstm", Hyperparameters(learning_rate=0.46, momentum=0.86, clip=0.54, decay_rate=0.43)),
    # LSTM-relu: c >= 0 and nothing bounds the candidate, so its activity can blow up for a few iterations
    # (loss up to 1e34) and come back under clipped steps. Seeds 0-11, 1,500 iterations, 4 roll-backs:
    # stopping at the first loss above 1e4, 9 of 12 learned at lr0 0.2 (4 of 6 at 0.27); training through
    # spikes of up to 50 iterations (divergence_patience), 12 of 12 at 0.2 (normalised loss 0.002-0.013)
    # and 11 of 12 at 0.27. Went NaN at lr0 0.46.
    ("lstm-relu", Hyperparameters(learning_rate=0.2, momentum=0.86, clip=0.56, decay_rate=0.43)),
    # SGD at 0.18 / 0.74 blew up 3 of 6 Vanilla-relu seeds within 15 iterations; Adam solved 6 of 6
    # (normalised loss 0.0011-0.0018 after 1,500 iterations)
    ("vanilla-relu", Hyperparameters(learning_rate=0.005, momentum=0.0, clip=1.0, decay_rate=0.3)),
)
_SMALL_CDI = (
    ("vanilla", Hyperparameters(learning_rate=0.0084, momentum=0.97, clip=1.77, decay_rate=0.12)),
    ("ugrnn", Hyperparameters(learning_rate=0.036, momentum=0.895, clip=6.2, decay_rate=0.67)),
    ("gru", Hyperparameters(learning_rate=0.26, momentum=0.90, clip=0.54, decay_rate=0.28)),
    ("lstm", Hyperparameters(learning_rate=0.109, momentum=0.907, clip=3.67, decay_rate=0.14)),
)
# Sine (small profile only): Adam with a curriculum over T; see the claims page for the deviation.
# Measured here with 4 seeds per architecture × activation: all reached normalised MSE < 0.02 at
# T = 500 and the cued frequency on >= 98% of the 51 probe cues.
_SMALL_SINE = (
    ("vanilla", Hyperparameters(learning_rate=0.002, momentum=0.0, clip=1.0, decay_rate=0.3)),
    ("ugrnn", Hyperparameters(learning_rate=0.005, momentum=0.0, clip=1.0, decay_rate=0.3)),
    ("gru", Hyperparameters(learning_rate=0.005, momentum=0.0, clip=1.0, decay_rate=0.3)),
    ("lstm", Hyperparameters(learning_rate=0.005, momentum=0.0, clip=1.0, decay_rate=0.3)),
)

_PAPER_CONFIG = TrainConfig(n_iterations=20_000, batch_size=64, steps_per_call=50)
_PAPER_PLANS = (
    ("flipflop", TaskPlan((Stage(FlipFlop(), _PAPER_CONFIG),), search=SearchSpace())),
    ("sine", TaskPlan((Stage(SineWave(), _PAPER_CONFIG),), search=SearchSpace(), exclude=(("lstm", "relu"),))),
    ("cdi", TaskPlan((Stage(ContextIntegration(), _PAPER_CONFIG),), search=SearchSpace())),
)

PROFILES: dict[str, Profile] = {
    "paper": Profile(
        name="paper",
        architectures=ARCHITECTURES,
        activations=tuple(ACTIVATIONS),
        units=(64, 128, 256),
        l2s=(1e-5, 1e-4, 1e-3, 1e-2),
        seeds=tuple(range(30)),
        plans=_PAPER_PLANS,
        description="96 configurations × 30 seeds per task, 20,000 iterations, random search",
    ),
    # The smallest grid that asks every claim the paper's way: every cell, two sizes, two L2 values,
    # and the paper's tasks, optimiser, search and 20,000 iterations. Projected from the H200 timings
    # (benchmarks/paper_scale.py --project): about 2 H200-hours packed by shape; not yet run on a GPU.
    "medium": Profile(
        name="medium",
        architectures=ARCHITECTURES,
        activations=tuple(ACTIVATIONS),
        units=(64, 128),
        l2s=(1e-5, 1e-3),
        seeds=tuple(range(10)),
        plans=_PAPER_PLANS,
        description=(
            "every architecture × activation, 64 and 128 units, L2 1e-5 and 1e-3, 10 seeds (the paper: 3 sizes × "
            "4 L2 × 30 seeds); the paper's tasks, SGD with its random search (16 trials × 2,000 iterations per "
            "configuration) and 20,000 iterations"
        ),
    ),
    # The paper's recipe (SGD, its random search per configuration, 20,000 iterations, batch 64) at the
    # one size this 2-core CPU can train for every architecture × activation within 12 hours, trained
    # across several sessions into a release (paperlib.training.release). L2 1e-4, the small profile's value,
    # was chosen before training.
    "paper64": Profile(
        name="paper64",
        architectures=ARCHITECTURES,
        activations=tuple(ACTIVATIONS),
        units=(64,),
        l2s=(1e-4,),
        seeds=tuple(range(10)),
        plans=_PAPER_PLANS,
        description=(
            "every architecture × activation at 64 units, L2 1e-4, 10 seeds (the paper: 3 sizes × 4 L2 × 30 "
            "seeds); the paper's tasks, SGD with momentum and its random search (16 trials × 2,000 iterations "
            "per configuration), 20,000 iterations, batch 64"
        ),
    ),
    "small": Profile(
        name="small",
        architectures=ARCHITECTURES,
        activations=tuple(ACTIVATIONS),
        units=(64,),
        l2s=(1e-4,),
        seeds=tuple(range(6)),
        plans=(
            (
                "flipflop",
                TaskPlan(
                    (
                        Stage(
                            FlipFlop(),
                            TrainConfig(
                                n_iterations=1500, batch_size=64, steps_per_call=50, divergence_patience=50, retries=4
                            ),
                        ),
                    ),
                    settings=_SMALL_FLIPFLOP,
                    optimizers=(("vanilla-relu", "adam"),),
                ),
            ),
            (
                "sine",
                TaskPlan(
                    (
                        Stage(
                            SineWave(n_time=100),
                            TrainConfig(n_iterations=2500, batch_size=32, optimizer="adam", steps_per_call=50),
                        ),
                        Stage(
                            SineWave(),
                            TrainConfig(n_iterations=200, batch_size=32, optimizer="adam", steps_per_call=25),
                            learning_rate_scale=0.1,
                        ),
                    ),
                    settings=_SMALL_SINE,
                    exclude=(("lstm", "relu"),),
                ),
            ),
            # Iterations against the v2 verdicts (benchmarks/iterations_vs_verdicts.py, 2026-11-26), flip-flop with
            # the t = 0 pulse. At 1,500 flip-flop / 500 CDI iterations (2 CPU cores): C4 modal count 27 in 62% of
            # networks, 8 stable corners in 67%; C7 does not hold (87.5% integrate in both contexts, Vanilla 75%).
            # At 3,000 / 2,000 (trained on one H100, analysed here): C4 66% / 81%, still short of 90%; C7 holds
            # (100% integrate; gated > Vanilla, Mann-Whitney p <= 4e-5); C5 measurable at 6 modal tanh networks
            # per architecture and holds at both lengths. In a clean-clone make book (2 cores) CDI's 2,000 iterations
            # take 95 s and flip-flop's 1,500 take 335 s (19 min in all): 3,000 flip-flop iterations would still fit
            # in 30 minutes, but moved no verdict, so CDI goes to 2,000 (C7 turns) and flip-flop stays at 1,500.
            (
                "cdi",
                TaskPlan(
                    (
                        Stage(
                            ContextIntegration(),
                            TrainConfig(
                                n_iterations=2000, batch_size=64, steps_per_call=50, divergence_patience=50, retries=4
                            ),
                        ),
                    ),
                    settings=_SMALL_CDI,
                ),
            ),
        ),
        description=(
            "every architecture × activation, 64 units, L2 1e-4, 6 seeds (the paper: 3 sizes × 4 L2 × 30 seeds); "
            "fixed optimiser settings measured here instead of a random search; 1,500 (flip-flop) and 2,000 (CDI) "
            "iterations instead of 20,000; Vanilla-relu flip-flop with Adam (SGD blew up half its seeds); "
            "sine with Adam and a curriculum (2,500 iterations at T = 100, then 200 at the full T = 500); "
            "on flip-flop and CDI a loss spike above 1e4 is trained through for up to 50 iterations, and a network "
            "whose loss stays above it longer or stops being finite is rolled back 50 iterations at half its "
            "learning rate, up to 4 times, before it is set aside (LSTM-relu; networks whose loss never exceeds "
            "1e4 are unaffected)"
        ),
    ),
    "tiny": Profile(
        name="tiny",
        architectures=ARCHITECTURES,
        activations=tuple(ACTIVATIONS),
        units=(8,),
        l2s=(1e-4,),
        seeds=(0, 1),
        plans=(
            (
                "flipflop",
                TaskPlan(
                    (Stage(FlipFlop(n_time=30), TrainConfig(n_iterations=20, batch_size=16, steps_per_call=10)),),
                    search=SearchSpace(n_trials=2, n_iterations=10, learning_rate=(0.01, 0.3)),
                ),
            ),
            (
                "sine",
                TaskPlan(
                    (
                        Stage(
                            SineWave(n_time=40),
                            TrainConfig(n_iterations=20, batch_size=16, optimizer="adam", steps_per_call=10),
                        ),
                    ),
                    settings=_SMALL_SINE,
                    exclude=(("lstm", "relu"),),
                ),
            ),
            (
                "cdi",
                TaskPlan(
                    (Stage(ContextIntegration(), TrainConfig(n_iterations=20, batch_size=16, steps_per_call=10)),),
                    settings=_SMALL_CDI,
                ),
            ),
        ),
        description="every architecture × activation, 8 units, 2 seeds, 20 iterations: for tests",
    ),
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"profile must be one of {list(PROFILES)}, got {name!r}")
    return PROFILES[name]
