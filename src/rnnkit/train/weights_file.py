"""Weights-only files: a model's tensors and its run's settings in the safetensors format.

A safetensors file is a JSON header (names, dtypes, shapes, byte offsets, and a table of
strings) followed by the raw bytes of each tensor; reading one runs no code, whatever it
holds. rnnkit writes every tensor of the model's ``state_dict`` under its own name (tied
weights stored once per name, so ``model.load_state_dict(safetensors.torch.load_file(path))``
fills the same model class with nothing missing) and, in the header, the checkpoint's
``config`` as JSON (``rnnkit.config``), its ``step`` and the format (``rnnkit.format``).
:func:`read` gives back the checkpoint dict those make, so every command that reads a
checkpoint for a trained model (``eval``, ``generate``, ``forecast``, ``classify``,
``export``) takes a ``.safetensors`` file too. It holds no optimizer state: it cannot resume a run.
"""
from __future__ import annotations

import json
import os
import struct

FORMAT = "rnnkit-weights-1"
SUFFIX = ".safetensors"
MISSING = "the safetensors package is not installed: pip install 'rnnkit[export]' (or pip install safetensors)"


def missing() -> str | None:
    """Why safetensors files cannot be written or read here, or None."""
    try:
        import safetensors.torch  # noqa: F401
    except ImportError:
        return MISSING
    return None


def to_bytes(state_dict: dict, config: dict, step: int, checkpoint_format: str) -> bytes:
    """The safetensors bytes of ``state_dict`` with the run's ``config`` (plain values) and ``step``;
    ValueError if safetensors is missing or ``config`` does not go into JSON."""
    problem = missing()
    if problem:
        raise ValueError(problem)
    from safetensors.torch import save

    try:
        settings = json.dumps(config, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the checkpoint's settings cannot be written as JSON: {exc}") from None
    # each tensor its own contiguous copy: tied weights share storage, which safetensors refuses to alias
    tensors = {name: t.detach().to("cpu").contiguous().clone() for name, t in state_dict.items()}
    return save(tensors, metadata={"rnnkit.format": FORMAT, "rnnkit.config": settings, "rnnkit.step": str(step),
                                   "rnnkit.checkpoint_format": checkpoint_format})


def read(path: str | os.PathLike, raw: bytes, checkpoint_format: str) -> dict:
    """The checkpoint dict (``format``, ``config``, ``model``, ``step``) of a weights file's bytes ``raw``;
    ValueError with one line if it is not a safetensors file written by rnnkit."""
    problem = missing()
    if problem:
        raise ValueError(problem)
    from safetensors.torch import load

    header = _header(raw, path)
    meta = header.get("__metadata__") or {}
    if meta.get("rnnkit.format") != FORMAT:
        raise ValueError(f"{path} is a safetensors file but not one written by rnnkit export "
                         f"(expected rnnkit.format {FORMAT!r} in its header, got {meta.get('rnnkit.format')!r})")
    try:
        config = json.loads(meta["rnnkit.config"])
        step = int(meta.get("rnnkit.step", "0"))
        tensors = load(raw)
    except Exception as exc:  # noqa: BLE001 - KeyError, JSON's ValueError, safetensors' own SafetensorError
        raise ValueError(f"{path} is damaged: {' '.join(str(exc).split())[:200]}") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path}: its rnnkit.config is a {type(config).__name__}, expected a JSON object")
    return {"format": checkpoint_format, "config": config, "model": dict(tensors), "step": step}


def _header(raw: bytes, path) -> dict:
    """The JSON header of safetensors bytes (8 bytes little-endian length, then the JSON)."""
    if len(raw) < 8:
        raise ValueError(f"{path} is not a safetensors file: {len(raw)} bytes, shorter than its 8-byte header length")
    (size,) = struct.unpack("<Q", raw[:8])
    if size > len(raw) - 8 or size > 100_000_000:
        raise ValueError(f"{path} is not a safetensors file (or is cut short): its header claims {size} bytes, "
                         f"the file has {len(raw) - 8} after the length")
    try:
        header = json.loads(raw[8:8 + size].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError(f"{path} is not a safetensors file: its header is not JSON") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path} is not a safetensors file: its header is not a JSON object")
    return header

