"""Data: synthetic benchmark series (chaotic systems, NARMA), generated locally;
numeric series read from CSV files."""
from rnnkit.data.chaos import lorenz, mackey_glass
from rnnkit.data.narma import narma10
from rnnkit.data.table import read_csv_series

__all__ = ["mackey_glass", "lorenz", "narma10", "read_csv_series"]
