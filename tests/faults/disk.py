"""What the fault tests share: a snapshot of everything under a directory, and a CLI call that must fail
with exactly one line."""
import hashlib
import os
from pathlib import Path

from rnnkit.cli.main import main


def snapshot(root) -> dict:
    """``{relative path: (sha256 of the bytes, mode)}`` of every file and folder under ``root``."""
    root = Path(root)
    found = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        found[str(path.relative_to(root))] = (digest, info.st_mode)
    return found


def refused(argv, capsys, text: str, code: int = 2) -> str:
    """Run ``rnnkit ARGV`` in-process; assert it exits ``code`` with one line on stderr containing ``text``
    and no traceback. Returns that line."""
    capsys.readouterr()
    assert main([str(a) for a in argv]) == code
    err = capsys.readouterr().err
    assert text in err, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def sparse_file(path, size: int) -> Path:
    """A file of ``size`` bytes that takes no disk space (a hole)."""
    with open(path, "wb") as f:
        os.truncate(f.fileno(), size)
    return Path(path)
