"""Run logs: progress (:mod:`rnnkit.train.progress`), a CSV file and (when installed) TensorBoard events.

Only the process that owns the logs (rank 0) makes a :class:`RunLog` with ``enabled=True``;
the others get a silent one. Columns of ``log.csv``: ``step, split, loss, metric,
grad_norm, lr, tokens_per_s, elapsed_s, event``
(``elapsed_s``: wall seconds since this process started logging) (empty where a row has no such value).
"""
from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

from rnnkit._write import atomic_write
from rnnkit.train.progress import Progress

COLUMNS = ("step", "split", "loss", "metric", "grad_norm", "lr", "tokens_per_s", "elapsed_s", "event")


def _tensorboard_writer(out_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        print("rnnkit: TensorBoard logging is off: the 'tensorboard' package is not installed "
              "(pip install 'rnnkit[tensorboard]')", file=sys.stderr)
        return None
    return SummaryWriter(log_dir=str(out_dir / "tensorboard"))


class RunLog:
    """Writes each row to the CSV file, TensorBoard and the progress bar (whichever are on)."""

    def __init__(self, out_dir: Path | None, *, enabled: bool, total: int, initial: int, progress: bool,
                 tensorboard: bool, metric_name: str, budget_s: float | None = None) -> None:
        self.enabled = enabled
        self._start = time.monotonic()
        self.metric_name = metric_name
        self._file = self._csv = self._tb = self._bar = None
        if not enabled:
            return
        # log.csv and tensorboard/ are made at the first row: a run that fails before its first step leaves no files
        self._path = None if out_dir is None else out_dir / "log.csv"
        self._tb_dir = out_dir if tensorboard else None
        if out_dir is not None:
            _drop_rows_after(self._path, initial)
        if progress:
            self._bar = Progress(total, initial, budget_s)

    def row(self, step: int, split: str, **values) -> None:
        """One row: ``values`` among loss, metric, grad_norm, lr, tokens_per_s, event."""
        if not self.enabled:
            return
        if self._csv is None and self._path is not None:
            fresh = not self._path.exists() or self._path.stat().st_size == 0
            self._file = open(self._path, "a", newline="")
            self._csv = csv.DictWriter(self._file, fieldnames=COLUMNS)
            if fresh:
                self._csv.writeheader()
            if self._tb_dir is not None:
                self._tb = _tensorboard_writer(self._tb_dir)
        if self._csv is not None:
            elapsed = round(time.monotonic() - self._start, 3)
            self._csv.writerow({"step": step, "split": split, "elapsed_s": elapsed,
                                **{k: _fmt(v) for k, v in values.items()}})
            self._file.flush()
        if self._tb is not None:
            for key, value in values.items():
                if isinstance(value, (int, float)):
                    self._tb.add_scalar(f"{split}/{key}", value, step)
        if self._bar is not None and split == "val" and isinstance(values.get("metric"), (int, float)):
            self._bar.note(f"val {self.metric_name}", values["metric"])

    def progress(self, step: int, **shown) -> None:
        """The run reached ``step``; ``shown`` (name -> number: loss, metric, throughput) goes beside the bar."""
        if self._bar is not None:
            self._bar.update(step, **shown)

    def message(self, text: str) -> None:
        """A line for the user (printed above the bar)."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.write(text)
        else:
            print(text, file=sys.stderr)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        if self._tb is not None:
            self._tb.close()
        if self._file is not None:
            self._file.close()


def _drop_rows_after(path: Path, step: int) -> None:
    """Remove the rows of ``path`` past ``step``: a run resumed from its step-``step`` checkpoint redoes
    those steps, and their rows would otherwise appear twice. Rewritten atomically, only if any go."""
    if not path.is_file():
        return
    lines = path.read_text().splitlines(keepends=True)
    kept = lines[:1] + [line for line in lines[1:] if _step_of(line) <= step]
    if len(kept) < len(lines):
        atomic_write(path, "".join(kept))


def _step_of(line: str) -> int:
    head = line.split(",", 1)[0]
    return int(head) if head.strip().isdigit() else -1  # a row not written by RunLog is kept


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.6g}"
    return value
