"""PyTorch networks in paperlib: imported weights reproduce PyTorch's own hidden states (fixtures made with
real PyTorch by ``tests/fixtures/make_torch_fixtures.py``), and bad files are refused with the reason."""

from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from paperlib.dynamics.fixed_points import find_fixed_points
from paperlib.models import rnn
from paperlib.models.cells import GRU, LSTM, TorchGRU, Vanilla
from paperlib.models.interop import TorchImportError, load_torch

FIXTURES = Path(__file__).parent / "fixtures" / "torch"
KINDS = {"rnn_tanh": Vanilla, "rnn_relu": Vanilla, "gru": TorchGRU, "lstm": LSTM}


@pytest.mark.parametrize("kind", KINDS)
def test_imported_weights_give_pytorchs_hidden_states(kind):
    model = load_torch(FIXTURES / f"{kind}.safetensors", kind, readout_prefix="readout")
    reference = load_file(str(FIXTURES / f"{kind}_reference.safetensors"))
    states, outputs = rnn.run(model, jnp.asarray(reference["inputs"]))
    assert type(model.cell) is KINDS[kind] and model.cell.activation == ("relu" if kind == "rnn_relu" else "tanh")
    assert np.abs(reference["h"]).max() > 0.3  # the fixture's dynamics are not trivially small
    np.testing.assert_allclose(model.cell.hidden(states), reference["h"], atol=1e-5)
    np.testing.assert_allclose(outputs, reference["y"], atol=1e-5)
    if kind == "lstm":
        np.testing.assert_allclose(states[:, model.cell.n_units :], reference["c"], atol=1e-5)


def test_pytorchs_gru_is_not_the_papers_gru():
    """The same weights in the paper's GRU (reset before W_c) give other states: the variant matters."""
    model = load_torch(FIXTURES / "gru.safetensors", "gru")
    reference = load_file(str(FIXTURES / "gru_reference.safetensors"))
    cell = model.cell
    papers = eqx.tree_at(
        lambda c: (c.W, c.B, c.b),
        GRU(cell.n_units, cell.n_inputs, "tanh", key=jax.random.key(0)),
        (cell.W, cell.B, cell.b.at[2 * cell.n_units :].add(cell.b_hc)),
    )
    h = cell.initial_state()
    gap = 0.0
    for x in jnp.asarray(reference["inputs"]):
        gap = max(gap, float(jnp.abs(cell(h, x) - papers(h, x)).max()))
        h = cell(h, x)
    assert gap > 1e-3


def test_without_a_readout_the_network_has_no_outputs():
    model = load_torch(FIXTURES / "rnn_tanh.safetensors", "rnn_tanh")
    states, outputs = rnn.run(model, jnp.zeros((5, 3)))
    assert states.shape == (5, 8) and outputs.shape == (5, 0)


def test_an_imported_network_has_fixed_points_of_its_own_map():
    """The analyses study ``model.step``: each fixed point found satisfies F(h*, 0) = h* for PyTorch's map."""
    model = load_torch(FIXTURES / "gru.safetensors", "gru", readout_prefix="readout.")
    x_star = jnp.zeros(3, jnp.float32)
    h0 = np.asarray(jax.random.normal(jax.random.key(1), (16, 8)))
    fps = find_fixed_points(model.step, x_star, h0)
    assert len(fps.states) >= 1
    for h in fps.states:
        step = model.step(jnp.asarray(h, jnp.float32), x_star)
        assert float(jnp.abs(step - h).max()) < 1e-4


def _damaged(tmp_path, kind: str, change) -> Path:
    tensors = load_file(str(FIXTURES / f"{kind}.safetensors"))
    change(tensors)
    path = tmp_path / "damaged.safetensors"
    save_file(tensors, str(path))
    return path


@pytest.mark.parametrize(
    "case, kind, change, message",
    [
        ("missing input weights", "gru", lambda t: t.pop("rnn.weight_ih_l0"), r"'rnn\.weight_ih_l0' is missing"),
        ("one bias only", "gru", lambda t: t.pop("rnn.bias_hh_l0"), r"rnn\.bias_hh_l0 is missing"),
        (
            "wrong input shape",
            "rnn_tanh",
            lambda t: t.update({"rnn.weight_ih_l0": np.zeros((9, 3), np.float32)}),
            r"rnn\.weight_ih_l0 has shape \(9, 3\), expected \(8, 3\)",
        ),
        (
            "wrong readout",
            "rnn_tanh",
            lambda t: t.update({"readout.weight": np.zeros((2, 5), np.float32)}),
            r"readout\.weight has shape \(2, 5\), expected \(2, 8\)",
        ),
        ("missing readout", "rnn_tanh", lambda t: t.pop("readout.weight"), r"'readout\.weight' is missing"),
    ],
)
def test_a_damaged_file_is_refused_naming_the_key(tmp_path, case, kind, change, message):
    with pytest.raises(TorchImportError, match=message):
        load_torch(_damaged(tmp_path, kind, change), kind, readout_prefix="readout")


@pytest.mark.parametrize(
    "fixture, kind, message",
    [
        ("gru_bidirectional", "gru", "bidirectional"),
        ("lstm_two_layers", "lstm", "2 layers"),
        ("lstm_projection", "lstm", "projection"),
        ("lstm", "gru", r"\(32, 8\) \(an nn\.LSTM's\); nn\.GRU \('gru'\) needs \(3 \* hidden_size"),
        ("gru", "rnn_tanh", r"an nn\.GRU's"),
    ],
)
def test_a_module_of_another_kind_is_refused(fixture, kind, message):
    with pytest.raises(TorchImportError, match=message):
        load_torch(FIXTURES / f"{fixture}.safetensors", kind)


def test_a_file_that_is_not_safetensors_is_refused(tmp_path):
    path = tmp_path / "weights.safetensors"
    path.write_bytes(b"PK\x03\x04 a torch.save zip, not safetensors")
    with pytest.raises(TorchImportError, match="not a readable .safetensors file"):
        load_torch(path, "gru")
    with pytest.raises(FileNotFoundError, match="no weights file"):
        load_torch(tmp_path / "absent.safetensors", "gru")
    with pytest.raises(ValueError, match="kind must be one of"):
        load_torch(FIXTURES / "gru.safetensors", "transformer")


def test_several_recurrent_modules_need_a_prefix(tmp_path):
    tensors = load_file(str(FIXTURES / "rnn_tanh.safetensors"))
    tensors.update({k.replace("rnn.", "encoder."): v for k, v in tensors.items() if k.startswith("rnn.")})
    path = tmp_path / "two.safetensors"
    save_file(tensors, str(path))
    with pytest.raises(TorchImportError, match=r"several: \['encoder\.', 'rnn\.'\]; name it with prefix="):
        load_torch(path, "rnn_tanh")
    assert load_torch(path, "rnn_tanh", prefix="encoder").cell.n_units == 8
