"""What every ``rnnkit`` subcommand shares: the strict parser, flags made from config fields, one-line errors."""
from __future__ import annotations

import argparse
import sys
from dataclasses import MISSING, fields
from pathlib import Path

from rnnkit._fields import choices_of, help_of, kinds


class StrictParser(argparse.ArgumentParser):
    """Rejects unknown flags with the list of valid ones; every usage error is one line, exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            valid = sorted(o for a in self._actions for o in a.option_strings if o.startswith("--"))
            self.error(f"unrecognized arguments: {' '.join(extras)}; valid options are {', '.join(valid)}")
        return namespace, extras


def fail(command: str, message: str) -> int:
    """One clear line on stderr and exit code 2 (usage errors and bad files)."""
    print(f"rnnkit {command}: error: {message}", file=sys.stderr)
    return 2


def _optional(kind):
    """A type for fields that may be None: 'none' (any case) gives None."""
    def parse(text: str):
        return None if text.lower() == "none" else kind(text)
    parse.__name__ = kind.__name__
    return parse


def add_config_flags(group, config, seen: dict | None = None, *, keep_defaults: bool = False) -> None:
    """One ``--flag`` per field of the config dataclass ``config``, with its help text and choices.

    Flags are left out of the namespace unless given (``argparse.SUPPRESS``), so a TOML file
    and the config's own defaults fill the rest; ``keep_defaults`` sets the field's default
    instead. ``seen`` (flag name -> default shown) skips fields an earlier config already made.
    """
    seen = {} if seen is None else seen
    for f in fields(config):
        if f.name in seen:
            continue
        default = f.default if f.default is not MISSING else None
        seen[f.name] = default
        flag = "--" + f.name.replace("_", "-")
        given = default if keep_defaults else argparse.SUPPRESS
        text = f"{help_of(f)} (default: {'none' if default is None else default})".replace("%", "%%")
        types = kinds(f)
        if types[0] == "bool":
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=given, help=text)
            continue
        kind = {"int": int, "float": float, "str": str}[types[0]]
        choices = choices_of(f)
        group.add_argument(flag, dest=f.name, default=given, choices=choices,
                           type=_optional(kind) if "None" in types else kind,
                           metavar=None if choices else types[0].upper(),
                           help=text)


def output_dir(path: str) -> Path:
    """``path`` as an output directory: ValueError if it exists and is not a directory, or files cannot be
    written in it (or, while it does not exist yet, in the nearest folder above it that does). Nothing is made."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output directory {out} exists and is a file")
    existing = next(p for p in (out, *out.absolute().parents) if p.is_dir())
    writable(existing, f"output directory {out}")
    return out


def output_file(path, suffix: str | None = None) -> Path:
    """``path`` as a file to write: ValueError if it is a directory, its directory does not exist, or it does
    not end in ``suffix`` (e.g. ``".png"``: what is written, so a name never promises another format)."""
    path = Path(path)
    if suffix is not None and path.suffix.lower() != suffix:
        raise ValueError(f"expected a file name ending in {suffix} (that is the format written), got {str(path)!r}")
    if path.is_dir():
        raise ValueError(f"output {path} is a directory, expected a file name")
    if not path.parent.is_dir():
        raise ValueError(f"output directory {path.parent} does not exist")
    writable(path.parent, f"output {path}")
    return path


def writable(directory: Path, what: str) -> None:
    """ValueError naming ``what`` unless a file can be created in ``directory`` (tried: permissions
    alone would not tell a read-only or special file system)."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise ValueError(f"cannot write {what}: {exc.strerror or exc} ({directory})") from None


MAX_THREADS_PER_CORE = 4  # more threads than this per core only spin (and very many crash OpenMP)


def set_threads(threads: int) -> None:
    """torch CPU threads for this process (ValueError outside 1 .. 4 x the machine's cores)."""
    import os

    import torch

    most = MAX_THREADS_PER_CORE * (os.cpu_count() or 1)
    if not 1 <= threads <= most:
        raise ValueError(f"expected --threads between 1 and {most} ({MAX_THREADS_PER_CORE} per core of this "
                         f"machine), got {threads}")
    torch.set_num_threads(threads)
