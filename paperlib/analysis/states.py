"""Each network's states on the task's probe inputs: what the similarity measures compare."""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from paperlib.analysis.cache import cache_path, cached
from paperlib.dynamics.fixed_points import state_scale
from paperlib.models.rnn import RNN, make_rnn, run_batch
from paperlib.tasks import Task
from paperlib.training.store import Population


@eqx.filter_jit
def _run(model, inputs):
    return run_batch(model, inputs)


def network_states(model: RNN, inputs) -> tuple[np.ndarray, np.ndarray]:
    """States (trials × time × state) and outputs of one network on a batch of inputs."""
    states, outputs = _run(model, jnp.asarray(inputs, jnp.float32))
    return np.asarray(states), np.asarray(outputs)


def hidden_states(model: RNN, inputs) -> np.ndarray:
    """The hidden states ``h`` (trials × time × units) of one network on a batch of inputs (LSTM: ``h``, not ``c``)."""
    states, _ = network_states(model, inputs)
    return np.asarray(model.cell.hidden(jnp.asarray(states)))


def time_stride(task: Task, n_trials: int, max_samples: int) -> int:
    return max(1, int(np.ceil(n_trials * task.n_time / max_samples)))


def probe_samples(model: RNN, task: Task, max_samples: int = 2000) -> np.ndarray:
    """One network's representation for the similarity measures: its hidden states on the task's probe
    inputs, every ``time_stride``-th step, as (samples × units) — a row of ``probe_states``."""
    inputs = task.probe_inputs()
    h = hidden_states(model, inputs)
    return h[:, :: time_stride(task, len(inputs), max_samples)].reshape(-1, h.shape[-1])


def probe_states(pop: Population, max_samples: int = 2000) -> np.ndarray:
    """Hidden states on the probe inputs, (networks × samples × units), cached."""

    def compute():
        models = tqdm(pop.models, desc=f"{pop.task.name} probe states", leave=False)
        return {"states": np.stack([probe_samples(model, pop.task, max_samples) for model in models])}

    return cached(cache_path(pop, "probe_states", max_samples=max_samples), compute)["states"]


def state_scales(pop: Population) -> np.ndarray:
    """Each network's ``r``: the RMS distance of its probe states (full state, LSTM ``[h; c]``) from their mean."""
    probe = pop.task.probe_inputs()

    def compute():
        return {"r": np.array([state_scale(network_states(m, probe)[0]) for m in pop.models])}

    return cached(cache_path(pop, "state_scales"), compute)["r"]


def untrained_probe_states(
    task: Task, architecture: str, activation: str, n_units: int, seeds: Sequence[int], max_samples: int = 2000
) -> np.ndarray:
    """Hidden states of freshly initialised networks on the task's probe inputs (Fig. 4's controls)."""
    reps = []
    for seed in seeds:
        model = make_rnn(
            architecture,
            activation,
            n_units,
            task.n_inputs,
            task.n_outputs,
            jax.random.split(jax.random.PRNGKey(seed))[0],
        )
        reps.append(probe_samples(model, task, max_samples))
    return np.stack(reps)
