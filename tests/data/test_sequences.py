"""Labelled sequences: CSV and NPZ files, the bundled digit strokes, padding, ClassifyTask batches."""
import numpy as np
import pytest
import torch

from rnnkit.data.sequences import ClassifyTask, digit_strokes, pad, read_sequences


def test_csv_rows_of_different_lengths(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("a,1,2,3\nb,4,5,,\na,6\n")
    data = read_sequences(path)
    assert [a[:, 0].tolist() for a in data.items] == [[1, 2, 3], [4, 5], [6]]
    assert data.labels.tolist() == [0, 1, 0] and data.classes == ("a", "b") and data.features == 1


def test_npz_with_lengths_and_features(tmp_path):
    x = np.arange(24, dtype=float).reshape(4, 3, 2)
    np.savez(tmp_path / "s.npz", x=x, y=np.array([2, 10, 2, 10]), lengths=np.array([3, 1, 2, 3]))
    data = read_sequences(tmp_path / "s.npz")
    assert [len(a) for a in data.items] == [3, 1, 2, 3] and data.features == 2
    assert data.classes == ("2", "10") and data.labels.tolist() == [0, 1, 0, 1]  # numeric labels sort as numbers


@pytest.mark.parametrize("name, content, text", [
    pytest.param("e.csv", b"", "is empty", id="empty"),
    pytest.param("b.csv", b"\x00\x01", "looks binary", id="binary"),
    pytest.param("n.csv", b"a,1,x\nb,2\n", "row 1 column 3: expected a number, got 'x'", id="non-numeric"),
    pytest.param("one.csv", b"a,1\na,2\n", "has a single class 'a'", id="one-class"),
    pytest.param("l.csv", "\u00e9,1\nb,2\n".encode("latin-1"), "is not UTF-8", id="latin1"),
    pytest.param("z.npz", b"not a zip file", "is not a readable NPZ", id="bad-npz"),
])
def test_bad_sequence_files_are_one_line(tmp_path, name, content, text):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ValueError) as exc:
        read_sequences(tmp_path / name)
    assert text in str(exc.value) and "\n" not in str(exc.value)


def test_npz_without_labels(tmp_path):
    np.savez(tmp_path / "s.npz", x=np.zeros((3, 4)))
    with pytest.raises(ValueError, match="has no array 'y' \\(it has x\\)"):
        read_sequences(tmp_path / "s.npz")


def test_digit_strokes_are_inked_pixels_in_raster_order():
    data = digit_strokes()
    lengths = [len(a) for a in data.items]
    assert len(data.items) == 1797 and min(lengths) == 16 and max(lengths) == 42 and data.features == 3
    first = data.items[0]
    assert np.all(np.diff(first[:, 0] * 8 + first[:, 1]) > 0)  # raster order
    assert first.min() >= 0 and first.max() <= 1


def test_pad_and_masked_batches():
    x, lengths = pad([np.ones((3, 2)), 2 * np.ones((1, 2))])
    assert x.shape == (3, 2, 2) and lengths.tolist() == [3, 1] and x[1:, 1].abs().sum() == 0
    data = digit_strokes()
    task = ClassifyTask(data, batch_size=8)
    assert sum(len(p) for p in task.parts.values()) == 1797 and len(task.parts["test"]) == 270
    assert not set(task.parts["test"].tolist()) & set(task.parts["train"].tolist())
    batch = task.batch("train", 0)
    mask = batch.x[..., -1]  # (T, B)
    assert batch.x.shape[1:] == (8, 4) and torch.equal(mask.sum(0), torch.tensor(
        [float(len(data.items[i])) for i in _chosen(task, batch)]))
    assert torch.equal(task.batch("train", 0).x, batch.x) and task.batch("test", 0).x.shape[1] == 8


def _chosen(task, batch):
    """Recover which sequences a batch holds from their labels and lengths (for the test above)."""
    lengths = batch.x[..., -1].sum(0).long().tolist()
    out = []
    for b, n in enumerate(lengths):
        for i in task.parts["train"].tolist():
            if len(task.data.items[i]) == n and task.data.labels[i] == int(batch.y[0, b]) and \
                    np.allclose(task.data.items[i], batch.x[:n, b, :-1].numpy()):
                out.append(i)
                break
    return out


def test_a_non_utf8_sequence_file_is_named_as_one(tmp_path):
    bad = tmp_path / "s.csv"
    bad.write_bytes(b"a,1.0\nb,\xff\n")
    with pytest.raises(ValueError) as exc:
        read_sequences(bad)
    assert str(exc.value) == (f"sequence file {str(bad)!r} is not UTF-8 (invalid byte 0xff at offset 8) "
                              "(expected CSV text or an .npz file)")


def test_values_up_to_the_largest_float32_are_read_and_beyond_it_refused(tmp_path):
    top = float(np.finfo(np.float32).max)
    ok = tmp_path / "ok.csv"
    ok.write_text(f"a,{top!r},{-top!r}\nb,1.0\n")
    assert read_sequences(ok).items[0][:, 0].tolist() == [top, -top]
    over = tmp_path / "over.csv"
    over.write_text(f"a,1.0,{top * (1 + 2 ** -20)!r}\n")
    with pytest.raises(ValueError, match="row 1 column 3: expected a finite number within"):
        read_sequences(over)
