"""An experiment's own words, checked against docs/experiments.md, which shows each full run's output.

A quick run's numbers differ from the documented full run's, so numbers are masked on both sides; what is
left (the preamble, the notes between tables, every table's header) must read as the docs read.
"""
import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs" / "experiments.md"
NUMBER = re.compile(r"\d[\d,]*(\.\d+)?(e[+-]?\d+)?%?")
QUICK_ONLY = re.compile(r" \(# for clip_norm\)")  # experiment 3's quick run trains its clip_norm rows less
LAGS = re.compile(r"(\| k=# )+")  # experiment 8: one column per lag, fewer lags when quick
BUDGET = ("# Adam steps per point", "# s of training per point (# thread)")  # experiment 8: fixed steps when quick


def mask(line: str) -> str:
    return LAGS.sub("| k=# ", QUICK_ONLY.sub("", NUMBER.sub("#", line))).replace(*BUDGET)


def prose_and_headers(lines: list[str]) -> list[str]:
    """Every non-blank line that is not a table's data row (its separator included)."""
    return [line for i, line in enumerate(lines) if line.strip() and (
        not line.startswith("|") or (i + 1 < len(lines) and lines[i + 1].startswith("| ---")))]


def assert_documented(lines: list[str]) -> None:
    shown = {mask(line) for line in DOCS.read_text(encoding="utf-8").splitlines()}
    words = prose_and_headers(lines)
    assert words and words[0] == lines[0], "an experiment's output opens with what it ran, before any table"
    missing = [line for line in words if mask(line) not in shown]
    assert not missing, f"not as docs/experiments.md shows it: {missing}"


LAG = ("lag k (steps back from the last step)", "||dL/dh_(T-k)|| / ||dL/dh_T||")  # the gradient-vs-lag curves
STEP_MSE = ("step", "training MSE (mean of 10 steps)")
# what each experiment's plots put on their axes
AXES = {1: {"exp1_init.png": LAG, "exp1_trained.png": LAG},
        2: {"exp2_power.png": ("t", "||h_t|| / ||h_0||"), "exp2_gradients.png": LAG},
        3: {"exp3_clipping.png": STEP_MSE}, 4: {"exp4_adding.png": ("step", "training loss (mean of 10 steps)")},
        5: {"exp5_bidirectional.png": STEP_MSE}, 6: {"exp6_irnn.png": STEP_MSE}, 7: {"exp7_tbptt.png": STEP_MSE},
        8: {"exp8_horizon.png": ("k (steps from the marked symbol to the answer)", "held-out accuracy"),
            "exp8_flow.png": LAG},
        9: {"exp9_adding.png": ("step", "training MSE (mean of 50 steps)")},
        10: {"exp10_fill.png": ("", "test accuracy (%)")}}
