"""Configuration of a reservoir: a frozen dataclass, validated when built."""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from rnnkit._checks import check_choice, check_size

ACTIVATIONS = ("tanh", "identity", "relu")
STORAGES = ("dense", "sparse")


def _real(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"ReservoirConfig: expected {name} to be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"ReservoirConfig: expected {name} to be finite, got {value}")
    return float(value)


@dataclass(frozen=True)
class ReservoirConfig:
    """Hyperparameters of a :class:`~rnnkit.reservoir.Reservoir` (see its equation)."""

    units: int = 100  # N, number of reservoir neurons
    spectral_radius: float = 0.9  # rho(W) after scaling; > 0 (below 1 is the usual echo-state regime)
    leak_rate: float = 1.0  # a in (0, 1]: x_t = (1 - a) x_{t-1} + a f(...); 1 = no leak
    input_scaling: float = 1.0  # W_in entries ~ U(-s, s)
    bias_scaling: float = 0.0  # b entries ~ U(-s, s); 0 = no bias
    connectivity: float = 0.1  # fraction of nonzero entries of W, in (0, 1]
    storage: str = "dense"  # "dense" (torch.mm) or "sparse" (CSR, frozen only); same numbers either way
    activation: str = "tanh"  # f: "tanh", "identity" (linear reservoir) or "relu"
    feedback_scaling: float = 0.0  # W_fb entries ~ U(-s, s) for output feedback; 0 = no feedback
    seed: int = 0  # seeds every random weight: same config, same reservoir

    def __post_init__(self) -> None:
        check_size("ReservoirConfig", "units", self.units)
        rho = _real("spectral_radius", self.spectral_radius)
        if rho <= 0:
            raise ValueError(f"ReservoirConfig: expected spectral_radius > 0, got {self.spectral_radius}")
        a = _real("leak_rate", self.leak_rate)
        if not 0.0 < a <= 1.0:
            raise ValueError(f"ReservoirConfig: expected leak_rate in (0, 1], got {self.leak_rate}")
        for name in ("input_scaling", "bias_scaling", "feedback_scaling"):
            if _real(name, getattr(self, name)) < 0:
                raise ValueError(f"ReservoirConfig: expected {name} >= 0, got {getattr(self, name)}")
        c = _real("connectivity", self.connectivity)
        if not 0.0 < c <= 1.0:
            raise ValueError(f"ReservoirConfig: expected connectivity in (0, 1], got {self.connectivity}")
        check_choice("ReservoirConfig", "storage", self.storage, STORAGES)
        check_choice("ReservoirConfig", "activation", self.activation, ACTIVATIONS)
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral):
            raise TypeError(f"ReservoirConfig: expected seed to be an int, got {type(self.seed).__name__}")
