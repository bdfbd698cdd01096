"""Experiment 10: fill-in-the-blank on the bundled plays, from the left context, the right one, and both."""
from __future__ import annotations

import statistics
from dataclasses import asdict
from pathlib import Path

import torch

from rnnkit.data.blanks import HEADS
from rnnkit.diagnostics import plots
from rnnkit.jobs import fill
from rnnkit.jobs.experiments.common import save_json, table, train


def experiment10(out: Path, quick: bool = False) -> list[str]:
    """Fill-in-the-blank on held-out Shakespeare: both directions against the left or right context alone."""
    # --quick: a small model and vocabulary, short windows, 300 steps, 2 seeds (deterministic, seconds); the full
    # run is `rnnkit train --task fill`'s model over 3 seeds (about 7 minutes with --threads 2)
    steps, seeds = (300, (0, 1)) if quick else (1000, (0, 1, 2))
    sizes = dict(hidden_size=32, max_vocab=1000, length=16, batch_size=16) if quick else {}
    rows, data, accuracy = [], [], {head: [] for head in HEADS}
    for seed in seeds:
        config = fill.FillConfig(data_seed=seed, **sizes)
        torch.manual_seed(seed)
        built = fill.build(config)
        fit = train(built.model, built.task, steps=steps, lr=fill.TRAIN_DEFAULTS["lr"], seed=seed, eval_batches=8)
        scores = built.task.scores(built.model, "test")
        for head in HEADS:
            accuracy[head].append(scores[head]["accuracy"])
        rows.append([seed, *(scores[h]["accuracy"] for h in HEADS), *(scores[h]["perplexity"] for h in HEADS),
                     f"{fit['seconds']:.0f} s"])
        data.append({"seed": seed, "config": asdict(config), "steps": fit["steps"], "seconds": fit["seconds"],
                     "test": scores, "val_loss": fit["val_loss"]})
    means = {h: statistics.fmean(accuracy[h]) for h in HEADS}
    spread = max(max(accuracy[h]) - min(accuracy[h]) for h in ("left", "both"))
    margin = means["both"] - means["left"]
    plots.plot_runs({fill.CONTEXTS[h]: [100 * a for a in accuracy[h]] for h in HEADS}, Path(out) / "exp10_fill.png",
                    title=f"missing word of held-out text, {len(seeds)} seeds", ylabel="test accuracy (%)")
    save_json(out, "exp10.json", {"runs": data, "margin_both_minus_left": margin, "spread": spread})
    words = data[0]["test"]["words"]
    lines = [f"rnnkit train --task fill: word windows of {config.length} from the bundled plays (vocabulary "
             f"{config.max_vocab}), one bidirectional {config.cell.upper()} (H={config.hidden_size} per direction) "
             "with a left, a right and a both-directions head trained together, "
             f"Adam lr {fill.TRAIN_DEFAULTS['lr']}, batch "
             f"{config.batch_size}, {steps} steps per seed; scored on the {words} word blanks of the test part (the "
             "last 5 % of the text), each seed its own init and windows", ""]
    lines += table(["seed", *(f"{fill.CONTEXTS[h]}: accuracy" for h in HEADS),
                    *(f"{fill.CONTEXTS[h]}: perplexity" for h in HEADS), "train time"], rows)
    lines += ["", f"mean accuracy: left {means['left']:.2%}, right {means['right']:.2%}, both {means['both']:.2%}; "
              f"both - left = {100 * margin:.2f} points against a run-to-run spread (max - min over the seeds, the "
              f"larger of left's and both's) of {100 * spread:.2f} points: "
              + ("the margin is larger" if margin > spread else "the margin is NOT larger")]
    return lines
