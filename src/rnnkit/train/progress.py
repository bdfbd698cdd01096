"""Progress of a training run: a bar on a terminal, plain periodic lines anywhere else.

On a terminal (stderr is a TTY) a tqdm bar counts optimizer steps, or, when the run has a
time budget (``max_minutes``) that ends it first, the seconds of that budget: a
two-minute run shows ``0:44 of 2:00``, not an ETA of days for the step count it will
never reach. Beside the bar: the step, steps per second, tokens per second, the training
loss and metric, and the latest validation metric.

When stderr is not a terminal (a log file, CI) nothing is redrawn: one plain line every
``every_s`` seconds (and at the end) says the same.
"""
from __future__ import annotations

import sys
import time


def clock(seconds: float) -> str:
    """``seconds`` as ``M:SS`` (or ``H:MM:SS`` from an hour on)."""
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def _number(value: float) -> str:
    """Plain digits for the user: 26,084 rather than 2.6e+04, 1.853 rather than 1.85319187."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


class Progress:
    """Shows how far a run is. ``update(step, **shown)`` after every optimizer step; ``close()`` at the end.

    Args:
        total: the step budget (``TrainConfig.steps``). initial: the step a resumed run starts at.
        budget_s: the time budget in seconds, or None. terminal: draw a bar (None: whether stderr
            is a TTY). every_s: seconds between plain lines when not drawing a bar.
    """

    def __init__(self, total: int, initial: int = 0, budget_s: float | None = None, *, terminal: bool | None = None,
                 every_s: float = 30.0, stream=None) -> None:
        self.total, self.step, self.budget_s, self.every_s = total, initial, budget_s, every_s
        self.stream = sys.stderr if stream is None else stream
        self.terminal = self.stream.isatty() if terminal is None else terminal
        self._start = self._last_line = time.monotonic()
        self._first_step = initial
        self.shown: dict[str, str] = {}
        self._bar = None
        if self.terminal:
            from tqdm import tqdm

            if self.by_time:
                self._bar = tqdm(total=round(budget_s), unit="s", file=self.stream, dynamic_ncols=True,
                                 bar_format="{l_bar}{bar}| {elapsed} of " + tqdm.format_interval(budget_s)
                                            + "{postfix}")
            else:
                self._bar = tqdm(total=total, initial=initial, unit="step", file=self.stream, dynamic_ncols=True)

    @property
    def by_time(self) -> bool:
        """Whether the bar counts the time budget rather than steps."""
        return self.budget_s is not None

    def elapsed(self) -> float:
        return time.monotonic() - self._start

    def update(self, step: int, **shown: float) -> None:
        """The run reached ``step``; ``shown`` (name -> value) goes beside the bar or into the next line."""
        advanced, self.step = step - self.step, step
        self.shown.update({name: _number(value) for name, value in shown.items()})
        if self._bar is not None:
            if self.by_time:
                self._bar.update(max(0, min(round(self.elapsed()), self._bar.total) - self._bar.n))
            else:
                self._bar.update(advanced)
            self._bar.set_postfix_str(self._postfix(), refresh=False)
        elif time.monotonic() - self._last_line >= self.every_s:
            self.line()

    def note(self, name: str, value: float) -> None:
        """Show ``name = value`` from now on (e.g. the latest validation metric)."""
        self.shown[name] = _number(value)

    def _rate(self) -> float:
        return (self.step - self._first_step) / max(self.elapsed(), 1e-9)

    def _postfix(self) -> str:
        parts = [f"step {self.step}"] if self.by_time else []
        parts.append(f"{_number(self._rate())} steps/s")
        parts += [f"{name} {value}" for name, value in self.shown.items()]
        return ", ".join(parts)

    def line(self) -> None:
        """One plain line: where the run is, of which budget, and the shown values."""
        self._last_line = time.monotonic()
        where = f"step {self.step} of {self.total}"
        if self.by_time:
            where += f", {clock(self.elapsed())} of {clock(self.budget_s)}"
        rest = ", ".join([f"{_number(self._rate())} steps/s"] + [f"{n} {v}" for n, v in self.shown.items()])
        print(f"{where}: {rest}", file=self.stream, flush=True)

    def write(self, text: str) -> None:
        """A message for the user, above the bar when there is one."""
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            if self.by_time:
                self._bar.update(max(0, min(round(self.elapsed()), self._bar.total) - self._bar.n))
            self._bar.set_postfix_str(self._postfix(), refresh=False)
            self._bar.close()
        elif self.step > self._first_step:
            self.line()
