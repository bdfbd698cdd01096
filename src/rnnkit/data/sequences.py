r"""Labelled variable-length sequences for classification: files, the bundled digits, padding, batches.

**Files.** An NPZ file holds ``x`` (N, T) or (N, T, F) numbers, ``y`` (N,) integer labels
and optionally ``lengths`` (N,) (default: every sequence is T long); it is read with
``allow_pickle=False``, so it never runs code. A CSV file holds one sequence per row:
the label first, then the values of a univariate sequence; rows may differ in length
(empty trailing cells are ignored), as in the UCR archive's format.

**Bundled digits.** :func:`digit_strokes` reads each 8 x 8 handwritten digit (0..16 ink)
in raster order and keeps only the inked pixels; step t is
:math:`(\mathrm{row}/7,\ \mathrm{col}/7,\ \mathrm{ink}/16)`, so the sequences are 16 to 42 steps long.

**Batches** (:class:`ClassifyTask`): the sequences are padded to the longest one of the
batch; the last input channel is the step mask (1 on real steps, 0 on padding), from
which :class:`~rnnkit.models.LengthsFromMask` recovers the lengths. Shapes: ``x``
(T, B, F + 1), ``y`` (T, B) (the label repeated), ``weight`` (T, B) (1 at t = 0).
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from rnnkit._checks import check_choice, check_size
from rnnkit.data.batching import SPLITS, Batch, batch_generator
from rnnkit.data.files import csv_rows, decode_utf8, read_bytes
from rnnkit.data.series import LARGEST


@dataclass(frozen=True, eq=False)
class Sequences:
    """N labelled sequences of F features, each ``(L_i, F)`` float32, with labels 0..C-1."""

    items: tuple  # N arrays (L_i, F) float32
    labels: np.ndarray  # (N,) int64 in 0..C-1
    classes: tuple  # C class names (the labels as found in the file)

    @property
    def features(self) -> int:
        return self.items[0].shape[1]


def _labelled(name: str, items: list, raw_labels: list) -> Sequences:
    if len(items) < 2:
        raise ValueError(f"sequence file {name!r} has {len(items)} sequence(s), expected at least 2")
    classes = sorted(set(raw_labels), key=lambda c: (not _is_int(c), int(c) if _is_int(c) else 0, c))
    if len(classes) < 2:
        raise ValueError(f"sequence file {name!r} has a single class {classes[0]!r}, expected at least 2")
    index = {c: i for i, c in enumerate(classes)}
    labels = np.array([index[c] for c in raw_labels], dtype=np.int64)
    return Sequences(tuple(np.asarray(a, dtype=np.float32) for a in items), labels, tuple(classes))


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def read_sequences(path) -> Sequences:
    """Labelled sequences from an ``.npz`` or ``.csv`` file (see module docs); ValueError with one line if bad."""
    name = os.fspath(path)
    raw = read_bytes(name, "sequence file")
    if not raw.strip():
        raise ValueError(f"sequence file {name!r} is empty")
    if name.endswith(".npz"):
        return _read_npz(name, raw)
    text = decode_utf8(raw, name, "sequence file", hint=" (expected CSV text or an .npz file)")
    items, labels = [], []
    for n, row in enumerate(csv_rows(text, name, "sequence file"), start=1):
        cells = [c.strip() for c in row]
        while cells and cells[-1] == "":
            cells.pop()
        if not cells:
            continue
        values = []
        for j, cell in enumerate(cells[1:], start=2):
            try:
                value = float(cell)
            except ValueError:
                raise ValueError(f"sequence file {name!r} row {n} column {j}: expected a number, "
                                 f"got {cell!r}") from None
            if not abs(value) <= LARGEST:  # NaN, Inf, or beyond float32
                raise ValueError(f"sequence file {name!r} row {n} column {j}: expected a finite number within "
                                 f"+-{LARGEST:.3g} (float32), got {cell!r}") from None
            values.append(value)
        if not values:
            raise ValueError(f"sequence file {name!r} row {n}: expected a label then at least one value")
        labels.append(cells[0])
        items.append(np.array(values)[:, None])  # (L, 1)
    return _labelled(name, items, labels)


def _read_npz(name: str, raw: bytes) -> Sequences:
    try:
        data = np.load(io.BytesIO(raw), allow_pickle=False)
        arrays = {k: data[k] for k in data.files}
    except Exception as exc:  # not a zip, pickled objects, truncated...
        raise ValueError(f"sequence file {name!r} is not a readable NPZ of numeric arrays: "
                         f"{str(exc).splitlines()[0][:120]}") from None
    for key in ("x", "y"):
        if key not in arrays:
            raise ValueError(f"sequence file {name!r} has no array {key!r} (it has {', '.join(arrays) or 'none'})")
    x, y = arrays["x"], arrays["y"]
    if x.ndim == 2:
        x = x[:, :, None]  # (N, T, 1)
    if x.ndim != 3 or y.shape != (x.shape[0],):
        raise ValueError(f"sequence file {name!r}: expected x (N, T) or (N, T, F) and y (N,), "
                         f"got x {tuple(arrays['x'].shape)} and y {tuple(y.shape)}")
    if min(x.shape) == 0:
        raise ValueError(f"sequence file {name!r}: x has shape {tuple(x.shape)}, expected no empty axis")
    lengths = arrays.get("lengths", np.full(x.shape[0], x.shape[1]))
    if (lengths.shape != (x.shape[0],) or not np.issubdtype(lengths.dtype, np.integer)
            or lengths.min() < 1 or lengths.max() > x.shape[1]):
        raise ValueError(f"sequence file {name!r}: expected integer lengths (N,) = ({x.shape[0]},) in "
                         f"1..{x.shape[1]}, got {lengths.dtype} of shape {tuple(lengths.shape)}")
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise ValueError(f"sequence file {name!r}: x is of dtype {x.dtype}, expected integers or floats")
    bad = ~(np.abs(x) <= LARGEST)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"sequence file {name!r}: x{list(where)} is {x[where].item()!r}, expected finite numbers "
                         f"within +-{LARGEST:.3g} (float32)")
    return _labelled(name, [x[i, :int(n)] for i, n in enumerate(lengths)], [str(v) for v in y.tolist()])


def digit_strokes() -> Sequences:
    """The bundled digits as sequences of inked pixels (row, column, ink), 16..42 steps (see module docs)."""
    from rnnkit.data.datasets import digits

    images, labels = digits()
    items = []
    for image in images:
        rows, cols = np.nonzero(image)  # raster order
        items.append(np.stack([rows / 7.0, cols / 7.0, image[rows, cols] / 16.0], axis=1))  # (L, 3)
    return Sequences(tuple(a.astype(np.float32) for a in items), labels, tuple(str(c) for c in range(10)))


def pad(items) -> tuple[torch.Tensor, torch.Tensor]:
    """Time-major zero-padded batch ``(T, B, F)`` of arrays ``(L_b, F)`` and their lengths ``(B,)``."""
    lengths = torch.tensor([len(a) for a in items])
    x = torch.zeros(int(lengths.max()), len(items), items[0].shape[1])
    for b, a in enumerate(items):
        x[:len(a), b] = torch.as_tensor(a)
    return x, lengths


def masked_batch(data: Sequences, indices: list) -> Batch:
    """Sequences ``indices`` of ``data`` padded, with the step mask as the last input channel (see module docs)."""
    x, lengths = pad([data.items[i] for i in indices])  # (T, B, F), (B,)
    mask = (torch.arange(x.shape[0])[:, None] < lengths[None, :]).float()  # (T, B)
    y = torch.as_tensor(data.labels[indices]).expand(x.shape[0], -1)  # (T, B)
    weight = torch.zeros(x.shape[0], len(indices))
    weight[0] = 1.0
    return Batch(torch.cat([x, mask[..., None]], dim=-1), y, weight)


@dataclass(frozen=True, eq=False)
class ClassifyTask:
    """Sequence classification over a shuffled train / val / test split (see module docs)."""

    data: Sequences  # the labelled sequences
    batch_size: int = 64  # B, sequences per batch
    seed: int = 0  # data seed: the split and train batch ``index`` are functions of it
    val_fraction: float = 0.15  # share of the sequences used for validation
    test_fraction: float = 0.15  # share of the sequences held out for testing

    name = "classify"
    metric_name = "accuracy"

    def __post_init__(self) -> None:
        check_size("ClassifyTask", "batch_size", self.batch_size)
        n = len(self.data.items)
        order = torch.randperm(n, generator=batch_generator(self.seed, "split", 0))
        n_test, n_val = round(n * self.test_fraction), round(n * self.val_fraction)
        if min(n_test, n_val, n - n_test - n_val) < 1:
            raise ValueError(f"ClassifyTask: {n} sequences are too few for val_fraction {self.val_fraction} and "
                             f"test_fraction {self.test_fraction}: every part needs at least one")
        parts = {"test": order[:n_test], "val": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}
        object.__setattr__(self, "parts", parts)

    @property
    def input_size(self) -> int:
        return self.data.features

    @property
    def num_classes(self) -> int:
        return len(self.data.classes)

    def batch(self, split: str, index: int) -> Batch:
        """Train: B sequences drawn at random; val/test: the split's sequences in order, B at a time."""
        check_choice("ClassifyTask", "split", split, SPLITS)
        check_size("ClassifyTask", "index", index, minimum=0)
        part = self.parts[split]
        if split == "train":
            chosen = part[torch.randint(0, part.numel(), (self.batch_size,),
                                        generator=batch_generator(self.seed, split, index))]
        else:
            chosen = part[(index * self.batch_size + torch.arange(min(self.batch_size, part.numel()))) % part.numel()]
        return self.make_batch(chosen.tolist())

    def make_batch(self, indices: list) -> Batch:
        """The padded batch of these sequences, with the step mask as the last channel."""
        return masked_batch(self.data, indices)

    def loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Cross-entropy of the logits ``(B, C)``."""
        return F.cross_entropy(output, batch.y[0])

    def metric(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Accuracy of the logits ``(B, C)``."""
        return (output.argmax(dim=-1) == batch.y[0]).float().mean().detach()
