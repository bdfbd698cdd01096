"""rnnkit: recurrent neural networks in PyTorch.

Drop-in ``RNN``/``LSTM``/``GRU`` layers, the generic :class:`Recurrent` for any
:class:`~rnnkit.cells.Cell`, engines that run cells through time, and
initialisations that fight vanishing gradients, diagnostics that measure them
(:mod:`rnnkit.diagnostics`), and echo state networks
(:mod:`rnnkit.reservoir`), which sidestep them by training only a linear readout.
"""
from importlib.metadata import PackageNotFoundError, version

from rnnkit._determinism import set_deterministic
from rnnkit import cells, data, diagnostics, init, kernels, models, reservoir, train
from rnnkit.cells import Cell, ElmanCell, GRUCell, LinearCell, LSTMCell, MinGRUCell, MinLSTMCell
from rnnkit.diagnostics import gradient_flow
from rnnkit.layers.explain import explain
from rnnkit.layers import GRU, LSTM, RNN, MinGRU, MinLSTM, Recurrent, quantize_dynamic
from rnnkit.train import TrainConfig, Trainer

try:
    __version__ = version("rnnkit")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "RNN", "LSTM", "GRU", "MinGRU", "MinLSTM", "Recurrent", "explain",
    "Cell", "ElmanCell", "LSTMCell", "GRUCell", "LinearCell", "MinGRUCell", "MinLSTMCell",
    "Trainer", "TrainConfig", "gradient_flow", "set_deterministic", "quantize_dynamic",
    "cells", "data", "diagnostics", "init", "kernels", "models", "reservoir", "train", "__version__",
]
