"""nn.Module layers: the torch.nn drop-ins and the generic :class:`Recurrent`."""
from rnnkit.layers.recurrent import Recurrent
from rnnkit.layers.rnn import GRU, LSTM, RNN

__all__ = ["Recurrent", "RNN", "LSTM", "GRU"]
