"""The experiments of ``docs/experiments.md``, each one command: ``rnnkit experiment N``.

1. gradient norm vs lag (tanh, ReLU, LSTM, GRU), at init and trained; decay rate vs prediction
2. spectral radius 0.9 / 1.0 / 1.1: the power iteration and the gradient through time
3. gradient clipping (norm, value) rescues SGD at a diverging learning rate
4. LSTM and GRU learn adding and copy where a tanh RNN fails
5. a bidirectional LSTM beats a unidirectional one on a look-ahead task
6. IRNN (ReLU, identity init) against tanh with default init on adding
7. truncated BPTT with window k cannot learn a dependency longer than k
8. memory horizon: recall accuracy against the lag k for every cell, beside its gradient-flow horizon
9. the adding problem at T = 1,000 within 10 CPU-minutes (minGRU) where a tanh RNN stays at baseline
10. fill-in-the-blank on held-out text: left context, right context, both directions
"""
from rnnkit.jobs.experiments.context import experiment10
from rnnkit.jobs.experiments.memory import experiment8, experiment9
from rnnkit.jobs.experiments.theory import experiment1, experiment2
from rnnkit.jobs.experiments.training import (experiment3, experiment4, experiment5, experiment6,
                                              experiment7)

EXPERIMENTS = {1: experiment1, 2: experiment2, 3: experiment3, 4: experiment4, 5: experiment5, 6: experiment6,
               7: experiment7, 8: experiment8, 9: experiment9,
               10: experiment10}

__all__ = ["EXPERIMENTS", "run_experiment"]


def run_experiment(number: int, out, *, quick: bool = False, threads: int = 1) -> str:
    """Run experiment ``number`` into ``out`` (plots, ``expN.json``, ``expN.md``); returns the Markdown text."""
    import time
    from pathlib import Path

    from rnnkit._write import atomic_write

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    experiment = EXPERIMENTS[number]
    start = time.perf_counter()
    lines = experiment(out, quick=quick)
    seconds = time.perf_counter() - start
    header = f"Experiment {number}: {experiment.__doc__.splitlines()[0]}"
    text = "\n".join([header, "", *lines, "", f"wall time {seconds:.0f} s (torch threads: {threads})"])
    atomic_write(out / f"exp{number}.md", text + "\n")
    return text
