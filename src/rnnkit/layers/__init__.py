"""nn.Module layers: the torch.nn drop-ins, MinGRU/MinLSTM, the generic :class:`Recurrent`, recording and :func:`explain`."""
from rnnkit.layers.explain import Explanation, explain
from rnnkit.layers.recording import record_states, recurrent_layers
from rnnkit.layers.minimal import MinGRU, MinLSTM
from rnnkit.layers.recurrent import Recurrent
from rnnkit.layers.rnn import GRU, LSTM, RNN
from rnnkit.layers.quantize import quantize_dynamic

__all__ = ["Recurrent", "RNN", "LSTM", "GRU", "MinGRU", "MinLSTM", "record_states", "recurrent_layers", "explain", "Explanation",
           "quantize_dynamic"]
