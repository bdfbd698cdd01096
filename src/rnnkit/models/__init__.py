"""Task heads around the recurrent layers: per-step sequence model, language model and sampling, forecaster, sequence classifier."""
from rnnkit.models.classifier import POOLING, LengthsFromMask, SequenceClassifier
from rnnkit.models.forecaster import Forecaster, errors, naive, seasonal_naive
from rnnkit.models.language import LanguageModel, evaluate_nats
from rnnkit.models.sampling import sample
from rnnkit.models.sequence import LAYERS, SequenceModel, Trace

__all__ = ["SequenceModel", "Trace", "LAYERS", "LanguageModel", "evaluate_nats", "sample",
           "Forecaster", "errors", "naive", "seasonal_naive",
           "SequenceClassifier", "LengthsFromMask", "POOLING"]
