"""The networks: the four cells, the RNN around them (cell + linear readout), and PyTorch weights.

The ground floor: imports nothing of ``paperlib`` but ``_checks``.

- ``cells``: ``Vanilla``, ``UGRNN``, ``GRU``, ``LSTM`` (:ref:`methods-cells`), ``make_cell``.
- ``rnn``: ``RNN``, ``make_rnn``, ``run``, ``run_batch``.
- ``interop``: ``load_torch``, a trained PyTorch ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM`` as an ``RNN``.
"""

from paperlib.models.cells import ACTIVATIONS, ARCHITECTURES, CELLS, GRU, LSTM, UGRNN, Cell, Vanilla, make_cell
from paperlib.models.interop import load_torch
from paperlib.models.rnn import RNN, make_rnn, run, run_batch

__all__ = [
    "ACTIVATIONS",
    "ARCHITECTURES",
    "CELLS",
    "GRU",
    "LSTM",
    "RNN",
    "UGRNN",
    "Cell",
    "Vanilla",
    "load_torch",
    "make_cell",
    "make_rnn",
    "run",
    "run_batch",
]
