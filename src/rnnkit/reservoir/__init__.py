"""Echo state networks: a fixed random reservoir, trained linear readouts, diagnostics."""
from rnnkit.reservoir.config import ReservoirConfig
from rnnkit.reservoir.esn import ESN
from rnnkit.reservoir.readouts import RLS, Ridge
from rnnkit.reservoir.reservoir import Reservoir

__all__ = ["ReservoirConfig", "Reservoir", "ESN", "Ridge", "RLS"]
