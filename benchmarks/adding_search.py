"""The adding problem at T = 1,000 within 10 CPU-minutes: a search over cell x init x engine.

Each configuration is one `rnnkit train --task adding --length 1000 ... --engine E --max-minutes M --threads 1`
run (one torch thread: M wall minutes are M CPU-minutes), then `rnnkit eval` of its best-by-validation weights
on 10 freshly generated test batches (640 sequences). Two runs go side by side, one per core, so the
search of 9 configurations takes about 5 x M minutes per engine. ``--engines`` names the engines to try
(default: ``auto``, whose pick for each cell is shown); an engine that cannot run a cell is skipped with its
reason. Prints the table and writes it as JSON.

    python benchmarks/adding_search.py --minutes 10 --json runs/adding_search.json
    python benchmarks/adding_search.py --minutes 10 --only lstm/chrono gru/default --engines native fused bptt
    python benchmarks/adding_search.py --minutes 0.2 --only mingru      # a smoke run of one configuration
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rnnkit import explain, jobs
from rnnkit.jobs.synthetic import SyntheticConfig
from rnnkit.kernels import dispatch

# name -> (cell, init, lr): every recurrent family rnnkit trains, each with the init meant to fight vanishing
CONFIGS = {
    "tanh, default init": ("rnn", "default", 5e-3),
    "tanh, orthogonal": ("rnn", "orthogonal", 5e-3),
    "IRNN (relu, identity)": ("relu", "identity", 1e-4),  # Le et al. 2015 train IRNNs with small rates
    "LSTM, default init": ("lstm", "default", 5e-3),
    "LSTM, chrono": ("lstm", "chrono", 5e-3),
    "GRU, default init": ("gru", "default", 5e-3),
    "GRU, orthogonal": ("gru", "orthogonal", 5e-3),
    "minGRU": ("mingru", "default", 5e-3),
    "minLSTM": ("minlstm", "default", 5e-3),
}
BASELINE = 1.0 / 6.0  # MSE of always predicting the mean sum 1


def from_log(log: Path) -> dict:
    """Steps run, and the first validation under 0.01 (step, seconds) from a run's log.csv."""
    rows = list(csv.DictReader(log.open())) if log.exists() else []
    solved = next((r for r in rows if r["split"] == "val" and float(r["loss"]) < 0.01), None)
    return {"steps": int(rows[-1]["step"]) if rows else 0,
            "solved_step": int(solved["step"]) if solved else None,
            "solved_seconds": float(solved["elapsed_s"]) if solved else None}


def engine_for(cell: str, engine: str, length: int) -> tuple[str, str | None]:
    """The engine a run of ``cell`` with ``--engine engine`` uses (auto: its pick), or why it cannot run."""
    try:
        built = jobs.get("adding").build(SyntheticConfig(length=length, batch_size=64, cell=cell, hidden_size=64,
                                                         engine=engine))
        layer = next(m for m in built.model.modules() if hasattr(m, "cells"))
        return explain(layer, built.task.batch("train", 0).x).chosen, None
    except ValueError as error:
        return engine, str(error).split(". ")[0]


def run_one(name: str, cell: str, init: str, lr: float, engine: str, minutes: float, out: Path,
            length: int) -> dict:
    """Train one configuration for ``minutes`` and score its best weights on the test batches."""
    rnnkit = [sys.executable, "-m", "rnnkit"]
    train = rnnkit + ["train", "--task", "adding", "--length", str(length), "--cell", cell, "--init", init,
                      "--engine", engine, "--hidden-size", "64", "--lr", str(lr), "--steps", "1000000", "--max-minutes", str(minutes),
                      "--eval-every", "200", "--threads", "1", "--no-progress", "--no-tensorboard", "--overwrite",
                      "--out", str(out)]
    start = time.perf_counter()
    done = subprocess.run(train, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    row = {"config": name, "cell": cell, "init": init, "lr": lr, "engine": engine, "seconds": round(seconds, 1),
           "command": " ".join(train[2:])}
    last = (done.stdout.strip().splitlines() or [""])[-1]
    row.update(from_log(out / "log.csv"))
    if done.returncode != 0 or not (out / "best.pt").exists():
        row.update(test_mse=float("nan"), error=(done.stderr.strip().splitlines() or [last])[-1])
        return row
    scored = subprocess.run(rnnkit + ["eval", str(out / "best.pt"), "--batches", "10"], capture_output=True,
                            text=True)
    found = re.search(r"mse[ =:]+([0-9.eE+-]+)", scored.stdout)
    row["test_mse"] = float(found.group(1)) if found else float("nan")
    row["eval"] = scored.stdout.strip()
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="wall (= CPU) minutes per configuration")
    parser.add_argument("--length", type=int, default=1000, help="T of the adding problem")
    parser.add_argument("--only", nargs="*", default=None,
                        help="run only these: CELL, CELL/INIT or CELL/INIT/ENGINE (e.g. lstm/chrono/fused)")
    parser.add_argument("--engines", nargs="+", default=["auto"], choices=dispatch.ENGINE_NAMES,
                        help="engines to try each configuration with")
    parser.add_argument("--out", default="runs/adding_search", help="one run directory per configuration here")
    parser.add_argument("--json", default=None, help="write the rows here")
    args = parser.parse_args(argv)
    todo, skipped = [], []
    for name, (cell, init, lr) in CONFIGS.items():
        for engine in args.engines:
            if args.only is not None and not {cell, f"{cell}/{init}", f"{cell}/{init}/{engine}"} & set(args.only):
                continue
            used, why = engine_for(cell, engine, args.length)
            if why is None and engine != "auto" and used == engine_for(cell, "auto", args.length)[0]:
                why = "auto's pick, the same run as engine auto"
            label = f"{engine} ({used})" if engine == "auto" else engine
            if why is None:
                todo.append((name, cell, init, lr, engine, label))
            else:
                skipped.append(f"{name}, engine {engine}: {why}")
    root = Path(args.out)

    def one(c):
        row = run_one(*c[:5], args.minutes, root / re.sub(r"\W+", "-", f"{c[0]} {c[4]}").strip("-"), args.length)
        return {**row, "engine": c[5]}

    with ThreadPoolExecutor(max_workers=2) as pool:
        rows = list(pool.map(one, todo))
    print(f"adding T={args.length}, H=64, batch 64, Adam, clip_norm 1, {args.minutes:g} min at 1 thread each; "
          f"baseline (predict 1) MSE {BASELINE:.3f}; solved: test MSE < 0.01\n")
    print("| configuration | engine | lr | steps in budget | test MSE | solved | val MSE < 0.01 first at |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        first = f"step {r['solved_step']}, {r['solved_seconds']:.0f} s" if r["solved_step"] else "never"
        print(f"| {r['config']} | {r['engine']} | {r['lr']:g} | {r['steps']} | {r['test_mse']:.4g} | "
              f"{'yes' if r['test_mse'] < 0.01 else 'no'} | {first} |" + (f" {r['error']}" if "error" in r else ""))
    for line in skipped:
        print(f"skipped: {line}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
