"""Networks trained elsewhere, brought into ``paperlib``: PyTorch weights saved as ``.safetensors``.

- ``load_torch(path, kind)``: a one-layer, one-direction ``nn.RNN`` (tanh or relu), ``nn.GRU`` or
  ``nn.LSTM`` from a ``state_dict`` saved with ``safetensors.torch.save_file``, read through
  safetensors' NumPy API (PyTorch need not be installed), as an ``RNN`` whose ``step`` is exactly
  PyTorch's map: the analyses (fixed points, linearisations, SVCCA/CKA of its states) then apply as
  to the paper's networks.
- PyTorch's GRU resets *after* its recurrent product, unlike the paper's GRU
  (:ref:`methods-cell-equations`): it loads as ``cells.TorchGRU``, its own cell, not an approximation.
- Recordings need no import: the similarity measures take plain ``(samples, units)`` arrays.
"""

from __future__ import annotations

import re
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from paperlib._checks import check_choice
from paperlib.models.cells import LSTM, Cell, TorchGRU, Vanilla
from paperlib.models.rnn import RNN

# kind: (cell, activation, gate blocks in PyTorch's order, which PyTorch block feeds each of the cell's blocks)
KINDS: dict[str, tuple[type[Cell], str, int, tuple[int, ...]]] = {
    "rnn_tanh": (Vanilla, "tanh", 1, (0,)),
    "rnn_relu": (Vanilla, "relu", 1, (0,)),
    "gru": (TorchGRU, "tanh", 3, (1, 0, 2)),  # PyTorch (r, z, n) -> (u, r, c)
    "lstm": (LSTM, "tanh", 4, (0, 1, 3, 2)),  # PyTorch (i, f, g, o) -> (i, f, o, g)
}
_MODULE_NAMES = {"rnn_tanh": "nn.RNN", "rnn_relu": "nn.RNN", "gru": "nn.GRU", "lstm": "nn.LSTM"}
_PARAMETER = re.compile(r"^(?:weight|bias)_(?:ih|hh|hr)_l(\d+)$")
_BLOCKS_OF = {1: "an nn.RNN's", 3: "an nn.GRU's", 4: "an nn.LSTM's"}


class TorchImportError(ValueError):
    """A weights file that cannot be read as the PyTorch module asked for; the message says why."""


def load_torch(path: str | Path, kind: str, *, readout_prefix: str | None = None, prefix: str | None = None) -> RNN:
    """Load a PyTorch recurrent module's weights from a ``.safetensors`` file as a ``paperlib`` RNN.

    **Arguments:**

    - ``path``: a file written by ``safetensors.torch.save_file(model.state_dict(), path)``.
    - ``kind``: ``"rnn_tanh"``, ``"rnn_relu"`` (``nn.RNN`` with that ``nonlinearity``), ``"gru"``
      (``nn.GRU``) or ``"lstm"`` (``nn.LSTM``); one layer, one direction, no projection.
    - ``readout_prefix``: where a ``nn.Linear`` readout is stored (``"readout"`` for keys
      ``readout.weight``, ``readout.bias``); without it the RNN has no outputs (``W_out`` is ``0 × n``).
    - ``prefix``: where the recurrent module is stored (``"rnn"`` for ``rnn.weight_ih_l0``, ``""``
      for a bare module); found by itself when the file holds exactly one.

    **Returns:** an ``RNN`` with ``rnn.run(model, inputs)`` giving PyTorch's hidden states (the LSTM's
    state is ``[h; c]``; ``model.cell.hidden`` picks ``h``) and ``model.step`` the recurrent map.
    The arrays keep the file's dtype (PyTorch saves float32).

    Raises ``TorchImportError`` naming the key and the problem: missing keys, wrong shapes, a
    bidirectional, multi-layer or projected module, or a file that is not safetensors.
    """
    kind = check_choice("kind", kind, KINDS)
    tensors = _read(Path(path))
    prefix = _recurrent_prefix(tensors, path, prefix)
    cell_type, activation, n_blocks, order = KINDS[kind]
    _refuse_unsupported(tensors, path, prefix, kind)

    w_ih, w_hh = (_get(tensors, path, f"{prefix}{name}_l0") for name in ("weight_ih", "weight_hh"))
    if w_hh.ndim != 2 or w_hh.shape[0] != n_blocks * w_hh.shape[1]:
        rows = w_hh.shape[0] // w_hh.shape[1] if w_hh.ndim == 2 and w_hh.shape[0] % w_hh.shape[1] == 0 else 0
        found = f" ({_BLOCKS_OF[rows]})" if rows in _BLOCKS_OF else ""
        raise TorchImportError(
            f"{path}: {prefix}weight_hh_l0 has shape {w_hh.shape}{found}; {_MODULE_NAMES[kind]} ({kind!r}) "
            f"needs ({n_blocks} * hidden_size, hidden_size)"
        )
    n = w_hh.shape[1]
    _check_shape(path, f"{prefix}weight_ih_l0", w_ih, (n_blocks * n, w_ih.shape[-1] if w_ih.ndim == 2 else -1))
    biases = {name: tensors.get(f"{prefix}{name}_l0") for name in ("bias_ih", "bias_hh")}
    if (biases["bias_ih"] is None) != (biases["bias_hh"] is None):
        missing = next(name for name, b in biases.items() if b is None)
        raise TorchImportError(f"{path}: {prefix}{missing}_l0 is missing (a module with bias=True stores both biases)")
    dtype = w_hh.dtype
    for name, b in biases.items():
        if b is None:
            biases[name] = np.zeros(n_blocks * n, dtype)
        else:
            _check_shape(path, f"{prefix}{name}_l0", b, (n_blocks * n,))

    def blocks(a: np.ndarray) -> np.ndarray:  # reorder PyTorch's gate blocks into the cell's
        return np.concatenate([a[i * n : (i + 1) * n] for i in order])

    W, B = blocks(w_hh), blocks(w_ih)
    b_ih, b_hh = blocks(biases["bias_ih"]), blocks(biases["bias_hh"])
    if cell_type is TorchGRU:  # the candidate's recurrent bias stays inside the reset gate
        b = np.concatenate([b_ih[: 2 * n] + b_hh[: 2 * n], b_ih[2 * n :]])
        extra = {"b_hc": b_hh[2 * n :]}
    else:
        b, extra = b_ih + b_hh, {}
    cell = _with_weights(cell_type(n, w_ih.shape[1], activation, key=jax.random.key(0)), W=W, B=B, b=b, **extra)

    if readout_prefix is None:
        W_out, b_out = np.zeros((0, n), dtype), np.zeros(0, dtype)
    else:
        key = readout_prefix if readout_prefix.endswith(".") or not readout_prefix else readout_prefix + "."
        W_out = _get(tensors, path, f"{key}weight")
        _check_shape(path, f"{key}weight", W_out, (W_out.shape[0] if W_out.ndim == 2 else -1, n))
        b_out = tensors.get(f"{key}bias", np.zeros(W_out.shape[0], dtype))
        _check_shape(path, f"{key}bias", b_out, (W_out.shape[0],))
    model = RNN(cell, 1, key=jax.random.key(0))
    return _with_weights(model, W_out=W_out, b_out=b_out)


def _read(path: Path) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    if not path.is_file():
        raise FileNotFoundError(f"no weights file at {path}")
    try:
        return load_file(str(path))
    except (SafetensorError, ValueError, OSError) as err:
        raise TorchImportError(f"{path} is not a readable .safetensors file ({err})") from None


def _recurrent_prefix(tensors: dict, path, prefix: str | None) -> str:
    if prefix is not None:
        return prefix if prefix.endswith(".") or not prefix else prefix + "."
    found = sorted(k[: -len("weight_hh_l0")] for k in tensors if k.endswith("weight_hh_l0"))
    if len(found) != 1:
        what = "no recurrent module (no key ending in weight_hh_l0)" if not found else f"several: {found}"
        raise TorchImportError(f"{path}: expected one recurrent module, found {what}; name it with prefix=")
    return found[0]


def _refuse_unsupported(tensors: dict, path, prefix: str, kind: str) -> None:
    keys = [k[len(prefix) :] for k in tensors if k.startswith(prefix)]
    if any(k.endswith("_reverse") for k in keys):
        raise TorchImportError(f"{path}: a bidirectional module ({prefix}*_reverse); load_torch takes one direction")
    layers = sorted({m.group(1) for k in keys if (m := _PARAMETER.match(k))})
    if layers != ["0"]:
        raise TorchImportError(f"{path}: a module with {len(layers)} layers; load_torch takes num_layers=1")
    if any(k.startswith("weight_hr") for k in keys):
        raise TorchImportError(f"{path}: an LSTM with a projection ({prefix}weight_hr_l0, proj_size > 0)")


def _get(tensors: dict, path, key: str) -> np.ndarray:
    if key not in tensors:
        raise TorchImportError(f"{path}: key {key!r} is missing (keys: {sorted(tensors)[:12]})")
    return tensors[key]


def _check_shape(path, key: str, array: np.ndarray, shape: tuple[int, ...]) -> None:
    if array.shape != shape or -1 in shape:
        expected = tuple("?" if s == -1 else s for s in shape)
        raise TorchImportError(f"{path}: {key} has shape {array.shape}, expected {expected}")


def _with_weights(module: eqx.Module, **arrays: np.ndarray) -> eqx.Module:
    names = list(arrays)
    return eqx.tree_at(lambda m: [getattr(m, k) for k in names], module, [jnp.asarray(arrays[k]) for k in names])
