"""Every cell × activation against an independent NumPy implementation of the equations in book/methods/cells.md."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from paperlib.models.cells import ARCHITECTURES, make_cell
from paperlib.models.rnn import make_rnn, run

N, M = 7, 3


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


F = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0.0)}


def reference_step(cell, h, x):
    """The Methods' equations, gate by gate, in float64 NumPy."""
    f = F[cell.activation]

    def z(name, state=None):
        W, B, b = (np.asarray(a, np.float64) for a in cell.block(name))
        return W @ (h if state is None else state) + B @ x + b

    name = type(cell).__name__
    if name == "Vanilla":
        return f(z("h"))
    if name == "UGRNN":
        g = sigmoid(z("g"))
        return g * h + (1 - g) * f(z("c"))
    if name == "GRU":
        u, r = sigmoid(z("u")), sigmoid(z("r"))
        c = f(z("c", r * h))
        return u * h + (1 - u) * c
    if name == "LSTM":
        hh, c = h[:N], h[N:]
        i, fg, o = (sigmoid(z(g, hh)) for g in "ifo")
        c_new = fg * c + i * f(z("g", hh))
        return np.concatenate([o * f(c_new), c_new])
    raise AssertionError(name)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_one_step_matches_numpy_reference(architecture, activation):
    k_cell, k_bias, k_h, k_x = jax.random.split(jax.random.PRNGKey(3), 4)
    cell = make_cell(architecture, activation, N, M, k_cell)
    # random biases too, so that every bias block is exercised
    cell = eqx.tree_at(lambda c: c.b, cell, jax.random.normal(k_bias, cell.b.shape))
    h = np.asarray(jax.random.normal(k_h, (cell.state_size,)), np.float64)
    x = np.asarray(jax.random.normal(k_x, (M,)), np.float64)
    got = np.asarray(cell(jnp.asarray(h, jnp.float32), jnp.asarray(x, jnp.float32)))
    np.testing.assert_allclose(got, reference_step(cell, h, x), rtol=1e-5, atol=1e-5)


def test_state_sizes_and_initial_biases():
    key = jax.random.PRNGKey(0)
    for arch in ARCHITECTURES:
        cell = make_cell(arch, "tanh", N, M, key)
        assert cell.state_size == (2 * N if arch == "lstm" else N)
        assert cell.initial_state().shape == (cell.state_size,)
        bias = np.asarray(cell.b)
        if arch == "lstm":
            np.testing.assert_array_equal(np.asarray(cell.block("f")[2]), np.ones(N))
            assert not np.asarray(cell.block("i")[2]).any()
        else:
            assert not bias.any()


def test_initial_weight_scales():
    cell = make_cell("vanilla", "tanh", 400, 50, jax.random.PRNGKey(1))
    assert np.std(np.asarray(cell.W)) == pytest.approx(0.9 / 20, rel=0.02)
    assert np.std(np.asarray(cell.B)) == pytest.approx(1 / 50**0.5, rel=0.03)


def test_lstm_readout_sees_h_only_and_run_matches_stepping():
    model = make_rnn("lstm", "tanh", N, M, 2, jax.random.PRNGKey(2))
    state = jnp.arange(2 * N, dtype=jnp.float32)
    changed_c = state.at[N:].set(-5.0)
    np.testing.assert_array_equal(model.readout(state), model.readout(changed_c))
    inputs = jax.random.normal(jax.random.PRNGKey(4), (5, M))
    states, outputs = run(model, inputs)
    h = model.cell.initial_state()
    for t in range(5):
        h = model.step(h, inputs[t])
        np.testing.assert_allclose(states[t], h, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(outputs[t], model.readout(h), rtol=1e-5, atol=1e-7)


def test_importing_paperlib_changes_neither_the_environment_nor_jax():
    import subprocess
    import sys

    code = (
        "import os, jax; env = dict(os.environ); cfg = dict(jax.config.values); import paperlib, paperlib.similarity, "
        "paperlib.dynamics.fixed_points; assert dict(os.environ) == env and dict(jax.config.values) == cfg; "
        "n = paperlib.use_host_devices(2); print(n, os.environ['XLA_FLAGS'])"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("XLA_FLAGS", "PAPERLIB_HOST_DEVICES")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "2" and "--xla_cpu_multi_thread_eigen=false" in result.stdout


def test_cells_follow_the_abstract_final_pattern():
    """``AbstractCell`` declares what every cell has and cannot be built; each concrete cell is final."""
    from paperlib.models.cells import CELLS, AbstractCell, TorchGRU

    with pytest.raises(TypeError, match="abstract"):
        AbstractCell()
    for cls in (*CELLS.values(), TorchGRU):
        assert issubclass(cls, AbstractCell) and getattr(cls, "__final__", False), cls.__name__
        assert cls.__bases__ == (AbstractCell,), f"{cls.__name__} subclasses a concrete cell"
