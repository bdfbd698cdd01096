"""Checkpoints: atomic to write, safe to load, complete enough to resume exactly.

A checkpoint is a ``torch.save`` of plain containers (dicts, lists, tuples, tensors,
numbers, strings), so :func:`load_checkpoint` reads it with ``weights_only=True`` and
never runs code. It is written with rnnkit's one atomic write (a temporary file in the same directory,
flushed and fsync'ed, then renamed over the old one with ``os.replace``): a reader (or a run killed
at any instant, even by SIGKILL) sees the old checkpoint or the new one, never half of one.

Contents: ``format``, ``rnnkit_version``, ``step``, ``position`` (the data position),
``model``, ``optimizer``, ``scheduler`` (state dicts), ``rng`` (torch, CUDA, numpy and
Python generator states as tensors and numbers), ``config`` (the run's settings as a
plain dict), ``trainer`` (early-stopping and guard counters) and ``carry`` (the TBPTT
state between windows, or None).

torch writes a CRC-32 of every record in the file but never checks one; :func:`load_checkpoint`
checks them all before it unpickles anything, so a flipped bit, a file cut short or overwritten
in place is refused in one line instead of loading as NaN or wrong numbers.

A ``.safetensors`` file written by ``rnnkit export`` (:mod:`rnnkit.train.weights_file`) loads
as a checkpoint with ``config``, ``model`` and ``step`` only: enough to evaluate or generate, not to resume.
"""
from __future__ import annotations

import os
import random
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch

from rnnkit._checks import regular_file
from rnnkit._write import atomic_write
from rnnkit.data.files import read_bytes
from rnnkit.train import weights_file

FORMAT = "rnnkit-checkpoint-1"


class CheckpointError(Exception):
    """A checkpoint that is missing, unreadable, or written for another task or model."""


def atomic_save(obj, path: str | os.PathLike) -> None:
    """``torch.save(obj)`` to ``path`` atomically (:func:`rnnkit._write.atomic_write`)."""
    atomic_write(path, lambda f: torch.save(obj, f))


def load_checkpoint(path: str | os.PathLike, required=("config", "model")) -> dict:
    """Read a checkpoint without running code; :class:`CheckpointError` with one clear line if it is bad
    (unreadable, of another format, lacking a ``required`` field, or holding a field of the wrong type)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a directory, expected a file")
    try:
        regular_file(path, "checkpoint")  # a FIFO would block torch.load forever
    except ValueError as exc:
        raise CheckpointError(str(exc)) from None
    if path.suffix.lower() == weights_file.SUFFIX:  # weights only (rnnkit export --format safetensors)
        try:
            ckpt = weights_file.read(path, read_bytes(path, "weights file"), FORMAT)
        except ValueError as exc:
            raise CheckpointError(str(exc)) from None
        validate(ckpt, path, required)
        return ckpt
    try:
        damaged = _damaged_record(path)
        if damaged:
            raise CheckpointError(f"checkpoint {path} is damaged: {damaged} (the file changed after it was written; "
                                  f"use an earlier checkpoint, or best.pt)")
        with warnings.catch_warnings():  # torch warns (in several lines) about foreign pickles it then refuses
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except PermissionError as exc:  # not the file's fault: say so, not "truncated"
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from None
    except Exception as exc:  # truncated zip, wrong format, foreign pickle...
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()  # torch colours part of its message
        first = text.splitlines()[0] if text else type(exc).__name__
        if "Weights only load failed" in text:  # torch's advice here is to turn the safe loader off: never
            first = "it holds Python objects other than tensors and plain containers, which rnnkit never unpickles"
        raise CheckpointError(f"checkpoint {path} is unreadable (truncated or not an rnnkit checkpoint): "
                              f"{first[:200]}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(f"checkpoint {path}: expected format {FORMAT!r}, got {found!r}")
    validate(ckpt, path, required)
    return ckpt


def _damaged_record(path: Path) -> str | None:
    """What is wrong with the zip records of ``path`` (a CRC-32 that does not match), or None if all check out.

    Files that are not zips at all are left to ``torch.load``, whose refusal says what they are.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                with archive.open(info) as record:
                    while record.read(1 << 20):
                        pass
    except zipfile.BadZipFile as exc:
        text = str(exc)
        if "CRC" in text or "Bad magic" in text or "Truncated" in text or "Overlapped" in text:
            return f"{text.rstrip('.')}"
        return None  # not a zip: torch.load says what it is
    except (EOFError, zipfile.LargeZipFile, NotImplementedError, ValueError) as exc:
        return f"{type(exc).__name__}: {str(exc)[:120]}"
    return None


# every field a checkpoint may hold, and its type (``carry``: a tensor, a tuple/list of them, or None)
SCHEMA = {"step": int, "position": list, "model": dict, "optimizer": dict, "scheduler": dict, "rng": dict,
          "config": dict, "trainer": dict, "carry": (torch.Tensor, tuple, list, type(None))}
RESUME = tuple(k for k in SCHEMA if k != "carry")  # the fields resuming a run needs


def validate(ckpt: dict, path, required=("config", "model")) -> None:
    """CheckpointError with one line if a field in ``required`` is missing or any field has the wrong type."""
    missing = [k for k in required if k not in ckpt]
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks the field{'s' if len(missing) > 1 else ''} "
                              f"{', '.join(map(repr, missing))} (written by another program, or damaged)")
    for key, kind in SCHEMA.items():
        if key in ckpt and (not isinstance(ckpt[key], kind) or (kind is int and isinstance(ckpt[key], bool))):
            raise CheckpointError(f"checkpoint {path}: its field {key!r} is a {type(ckpt[key]).__name__}, "
                                  f"expected {_kind_name(kind)} (written by another program, or damaged)")


def _kind_name(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join("None" if k is type(None) else k.__name__ for k in kinds)


def check_run(ckpt: dict, run_config: dict, path) -> None:
    """Refuse a checkpoint written for another task or model shape (its ``task``/``task_*``/``model_*`` fields)."""
    saved = ckpt.get("config", {})
    for key in ("task", *[k for k in saved if k.startswith(("model_", "task_"))]):
        if saved.get(key) != run_config.get(key):
            raise CheckpointError(f"checkpoint {path} was written for {key}={saved.get(key)!r}, "
                                  f"this run has {key}={run_config.get(key)!r}")


def rng_state() -> dict:
    """Every generator's state, as tensors and plain numbers (loadable with ``weights_only=True``)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": {"version": int(version), "internal": list(internal), "gauss": gauss},
    }


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss"]))
