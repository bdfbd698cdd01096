"""One time step of each recurrence: see :class:`Cell` for the contract."""
from rnnkit.cells.base import Cell, State
from rnnkit.cells.elman import ElmanCell
from rnnkit.cells.gru import GRUCell
from rnnkit.cells.linear import LinearCell
from rnnkit.cells.lstm import LSTMCell
from rnnkit.cells.mingru import MinGRUCell
from rnnkit.cells.minlstm import MinLSTMCell

__all__ = ["Cell", "State", "ElmanCell", "LSTMCell", "GRUCell", "LinearCell", "MinGRUCell", "MinLSTMCell"]
