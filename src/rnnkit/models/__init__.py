"""Task heads around the recurrent layers."""
from rnnkit.models.sequence import LAYERS, SequenceModel, Trace

__all__ = ["SequenceModel", "Trace", "LAYERS"]
