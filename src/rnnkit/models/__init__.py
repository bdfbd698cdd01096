"""Task heads around the recurrent layers: per-step sequence model, language model and sampling,
fill-in-the-blank, forecaster, sequence classifier."""
from rnnkit.models.classifier import POOLING, LengthsFromMask, SequenceClassifier
from rnnkit.models.fill import FillModel
from rnnkit.models.forecaster import Forecaster, errors, naive, seasonal_naive
from rnnkit.models.language import LanguageModel, evaluate_nats
from rnnkit.models.sampling import sample
from rnnkit.models.sequence import CELLS, LAYERS, SequenceModel, run_with_resets

__all__ = ["SequenceModel", "run_with_resets", "CELLS", "LAYERS", "LanguageModel", "evaluate_nats", "sample",
           "Forecaster", "errors", "naive", "seasonal_naive",
           "SequenceClassifier", "LengthsFromMask", "POOLING", "FillModel"]
