"""One atomic write for every file rnnkit writes: checkpoints, tables, reports, plots.

The content goes to a temporary file in the target's directory, is flushed and
fsync'ed, gets the mode a new file would get (0666 less the umask, as ``open`` gives),
and is renamed over the target with ``os.replace``; then the directory is fsync'ed so
the rename itself is durable. A reader, or a run killed at any instant (SIGKILL
included), sees the old file or the new one, never half of one; a write that fails
leaves the old file as it was and no temporary file behind.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Union

Content = Union[bytes, str, Callable[[BinaryIO], None]]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, content: Content) -> Path:
    """Write ``content`` to ``path`` atomically; returns the path.

    ``content`` is bytes, a str (written as UTF-8), or a callable that writes into the
    binary file object it is given (``lambda f: torch.save(obj, f)``,
    ``lambda f: fig.savefig(f, format="png")``).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(content, str):
                f.write(content.encode("utf-8"))
            elif isinstance(content, (bytes, bytearray)):
                f.write(content)
            else:
                content(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a plain open() would give 0666 - umask
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
    return path
