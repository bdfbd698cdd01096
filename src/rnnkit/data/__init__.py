"""Data: synthetic benchmark series (chaotic systems, NARMA), generated locally;
numeric series read from CSV files; synthetic long-range tasks (adding, copy memory)
and time-major batches for truncated BPTT; text corpora and the bundled data sets."""
from rnnkit.data import datasets
from rnnkit.data.batching import Batch, stream_lanes
from rnnkit.data.chaos import lorenz, mackey_glass
from rnnkit.data.narma import narma10
from rnnkit.data.sequences import ClassifyTask, Sequences, digit_strokes, pad, read_sequences
from rnnkit.data.series import ForecastTask, Series, read_series
from rnnkit.data.table import read_csv_series
from rnnkit.data.tasks import TASKS, AddingTask, CopyTask, make_task
from rnnkit.data.text import TextTask, Vocabulary, read_text, tokenize

__all__ = ["mackey_glass", "lorenz", "narma10", "read_csv_series",
           "Batch", "stream_lanes", "AddingTask", "CopyTask", "make_task", "TASKS",
           "TextTask", "Vocabulary", "read_text", "tokenize", "datasets",
           "ForecastTask", "Series", "read_series",
           "ClassifyTask", "Sequences", "digit_strokes", "pad", "read_sequences"]
