"""Damaged, foreign and hostile checkpoints: each is refused in one line by every command that reads one,
nothing on disk changes, and no code in the file ever runs."""
import io
import pickle
import random
import zipfile

import pytest
import torch

from rnnkit.cli.main import main
from rnnkit.train import CheckpointError, atomic_save, load_checkpoint
from tests.faults.disk import refused, snapshot

RUN = ["--task", "adding", "--length", "8", "--hidden-size", "4", "--batch-size", "4", "--steps", "2",
       "--eval-every", "0", "--eval-batches", "1", "--no-progress", "--no-tensorboard"]


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    out = tmp_path_factory.mktemp("good") / "run"
    assert main(["train", *RUN, "--out", str(out)]) == 0
    return (out / "checkpoint.pt").read_bytes()


class Payload:
    """Unpickling this creates the file it names: what an attacker's checkpoint would do."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _flip(data: bytes, at: int) -> bytes:
    out = bytearray(data)
    out[at] ^= 0x10
    return bytes(out)


def _edited(good: bytes, change) -> bytes:
    ckpt = torch.load(io.BytesIO(good), weights_only=True)
    change(ckpt)
    buffer = io.BytesIO()
    torch.save(ckpt, buffer)
    return buffer.getvalue()


def _tensor_record(data: bytes) -> int:
    """The offset of the middle of the first tensor's bytes inside the zip."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info = next(i for i in z.infolist() if "/data/" in i.filename)
    header = 30 + len(info.filename.encode()) + len(info.extra)
    return info.header_offset + header + info.file_size // 2


CASES = {  # name -> (the bytes of the file, given the good checkpoint and a path the payload would create; text)
    "empty": (lambda good, _: b"", "is unreadable (truncated or not an rnnkit checkpoint)"),
    "truncated": (lambda good, _: good[: len(good) // 2], "is unreadable (truncated or not an rnnkit checkpoint)"),
    "bit-flipped-tensor": (lambda good, _: _flip(good, _tensor_record(good)), "is damaged: Bad CRC-32 for file"),
    "text": (lambda good, _: b"step = 3\nmodel = weights\n", "is unreadable (truncated or not an rnnkit"),
    "foreign-zip": (lambda good, _: _zip_of({"notes.txt": b"hello"}), "is unreadable (truncated or not an rnnkit"),
    "a-list": (lambda good, _: _saved([1, 2, 3]), "expected format 'rnnkit-checkpoint-1', got 'list'"),
    "other-format": (lambda good, _: _saved({"weights": torch.zeros(2)}), "expected format 'rnnkit-checkpoint-1'"),
    "config-a-list": (lambda good, _: _edited(good, lambda c: c.update(config=[1])), "its field 'config' is a list"),
    "pickle-payload": (lambda good, target: pickle.dumps(Payload(target)), "is unreadable"),
    "torch-payload": (lambda good, target: _saved({"format": "rnnkit-checkpoint-1", "x": Payload(target)}),
                      "is unreadable"),
}


def _zip_of(members: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


def _saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("command", ["eval", "resume", "diagnose"])
@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_checkpoint_is_one_line_and_changes_nothing(tmp_path, capsys, good, case, command):
    make, text = CASES[case]
    out = tmp_path / "run"
    out.mkdir()
    created = tmp_path / "payload-ran"
    (out / "checkpoint.pt").write_bytes(make(good, created))
    before = snapshot(tmp_path)
    argv = {"eval": ["eval", out / "checkpoint.pt"],
            "resume": ["train", *RUN, "--steps", "3", "--out", out, "--resume"],
            "diagnose": ["diagnose", "--checkpoint", out / "checkpoint.pt", "--out", tmp_path / "diag"]}[command]
    line = refused(argv, capsys, text)
    assert "\x1b" not in line and "weights_only" not in line  # not torch's coloured advice to turn it off
    assert snapshot(tmp_path) == before and not created.exists()


def test_a_checkpoint_without_its_rng_state_evaluates_but_does_not_resume(tmp_path, capsys, good):
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(_edited(good, lambda c: c.pop("rng")))
    before = snapshot(tmp_path)
    refused(["train", *RUN, "--steps", "3", "--out", out, "--resume"], capsys, "lacks the field 'rng'")
    assert snapshot(tmp_path) == before
    assert main(["eval", str(out / "checkpoint.pt")]) == 0


def test_bit_flips_anywhere_are_refused_or_change_nothing(tmp_path, good):
    """300 single-bit flips at random offsets: each file is refused in one line, or (a flip in padding that
    no reader looks at) loads exactly the numbers that were saved. Never different numbers."""
    reference = load_checkpoint(_write(tmp_path / "ok.pt", good))
    outcomes = {"refused": 0, "same": 0}
    rng = random.Random(0)
    for _ in range(300):
        data = bytearray(good)
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        try:
            loaded = load_checkpoint(_write(tmp_path / "flipped.pt", bytes(data)))
        except CheckpointError as exc:
            assert "\n" not in str(exc)
            outcomes["refused"] += 1
            continue
        assert _same(loaded, reference)
        outcomes["same"] += 1
    assert outcomes["refused"] > 200, outcomes


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b or (a != a and b != b)  # NaN equals NaN here


def test_a_checkpoint_saved_by_rnnkit_round_trips_through_the_crc_check(tmp_path, good):
    path = _write(tmp_path / "c.pt", good)
    ckpt = load_checkpoint(path)
    atomic_save(ckpt, tmp_path / "again.pt")
    assert _same(load_checkpoint(tmp_path / "again.pt"), ckpt)
