"""A run's directory: refuse one that holds another run, clear what a killed write left behind.

``rnnkit train --out DIR`` writes ``checkpoint.pt``, ``best.pt``, ``log.csv`` (and, with a
monitor, ``monitor.jsonl``; with TensorBoard, ``tensorboard/``). A directory that already
holds any of them belongs to a run: a new run into it would replace that run's
checkpoints and append to its log, so it is refused unless the user says ``--resume``
(continue it) or ``--overwrite`` (replace it: those files are removed first, nothing else).
Temporary files that an atomic write killed mid-way left (``.NAME.*.tmp``) are removed.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

RUN_FILES = ("checkpoint.pt", "best.pt", "log.csv", "monitor.jsonl")  # what a run writes into its directory
RUN_DIRS = ("tensorboard",)


def describe_run(out: Path) -> str:
    """A few words on the run in ``out``: its task and step when its checkpoint loads."""
    from rnnkit.train.checkpoint import CheckpointError, load_checkpoint

    path = out / "checkpoint.pt"
    if not path.exists():
        return "files of a run: " + ", ".join(n for n in (*RUN_FILES, *RUN_DIRS) if (out / n).exists())
    try:
        ckpt = load_checkpoint(path)
    except CheckpointError:
        return "a checkpoint.pt that does not load"
    task = ckpt["config"].get("task")  # load_checkpoint has checked that config is a dict
    return f"checkpoint.pt of task {task!r} at step {ckpt.get('step')}"


def prepare_run_dir(out, *, resume: bool = False, overwrite: bool = False) -> tuple[Path, list[Path]]:
    """``(out, what to remove before training)``; ValueError if ``out`` is a file, or holds another run
    and neither ``resume`` nor ``overwrite`` is given. Nothing is removed here: call :func:`clear`
    once everything else about the run has been checked, so a refused run changes nothing."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output directory {out} exists and is a file")
    if not out.is_dir():
        return out, []
    held = [out / n for n in (*RUN_FILES, *RUN_DIRS) if (out / n).exists()]
    if held and not resume and not overwrite:
        raise ValueError(f"output directory {out} already holds a run ({describe_run(out)}); --resume "
                         f"continues it, --overwrite replaces it, or give another --out")
    stale = [p for name in RUN_FILES for p in out.glob(f".{name}.*.tmp")]  # atomic writes killed before the rename
    return out, stale + ([] if resume else held)


def clear(paths: list[Path]) -> None:
    """Remove what :func:`prepare_run_dir` listed."""
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def make_writable(out: Path) -> None:
    """Create ``out`` (with its parents) and prove a file can be written in it; ValueError with one line if not.

    Call it once the run is accepted: a read-only or impossible directory is then refused
    before training starts, not at the first checkpoint.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise ValueError(f"cannot write into output directory {out}: {exc.strerror or exc}") from None
