"""Batch windows for TBPTT and lanes of streamed sequences with reset marks."""
import pytest
import torch

from rnnkit.data.batching import Batch, stream_lanes


def _seq(T, start):
    x = torch.arange(start, start + T, dtype=torch.float32).view(T, 1, 1)
    return Batch(x, x.clone(), torch.ones(T, 1))


def test_windows_cover_the_batch_in_order():
    batch = Batch(torch.randn(10, 2, 3), torch.randn(10, 2, 1), torch.ones(10, 2))
    windows = list(batch.windows(4))
    assert [w.length for w in windows] == [4, 4, 2]
    assert torch.equal(torch.cat([w.x for w in windows]), batch.x)
    assert list(batch.windows(None))[0] is batch


def test_stream_lanes_marks_each_sequence_start():
    batch = stream_lanes([[_seq(3, 0), _seq(5, 100)], [_seq(8, 200)]])
    assert batch.x.shape == (8, 2, 1)
    assert batch.resets[:, 0].nonzero().flatten().tolist() == [0, 3]
    assert batch.resets[:, 1].nonzero().flatten().tolist() == [0]
    assert batch.x[3, 0, 0].item() == 100


def test_stream_lanes_rejects_uneven_lanes():
    with pytest.raises(ValueError, match=r"same total length, got \[3, 4\]"):
        stream_lanes([[_seq(3, 0)], [_seq(4, 0)]])


def test_batch_checks_shapes():
    with pytest.raises(ValueError, match=r"expected weight to start with \(T, B\) = \(5, 2\), got shape \(5, 3\)"):
        Batch(torch.randn(5, 2, 1), torch.randn(5, 2), torch.ones(5, 3))


@pytest.mark.parametrize("k, error", [(0, ValueError), (2.0, TypeError)])
def test_windows_of_a_bad_length_name_the_argument(k, error):
    batch = Batch(torch.zeros(4, 2, 1), torch.zeros(4, 2, 1), torch.ones(4, 2))
    with pytest.raises(error, match=r"^Batch.windows: expected k "):
        list(batch.windows(k))
