"""SequenceClassifier: padding never changes a sequence's logits; pooling; the mask adapter."""
import pytest
import torch

from rnnkit.models import LengthsFromMask, SequenceClassifier


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_a_padded_sequence_scores_as_if_alone(bidirectional, pooling):
    torch.manual_seed(0)
    clf = SequenceClassifier(3, 5, 4, num_layers=2, bidirectional=bidirectional, pooling=pooling).double()
    x = torch.randn(9, 3, 3, dtype=torch.float64)
    lengths = torch.tensor([9, 4, 6])
    for b in range(3):
        x[lengths[b]:, b] = 0.0
    logits = clf(x, lengths)
    assert logits.shape == (3, 4)
    for b in range(3):
        alone = clf(x[:lengths[b], b:b + 1], torch.tensor([int(lengths[b])]))
        assert torch.allclose(logits[b], alone[0], atol=1e-10)


def test_mean_pooling_is_the_mean_output():
    torch.manual_seed(0)
    clf = SequenceClassifier(2, 3, 2, pooling="mean", cell="gru").double()
    x = torch.randn(5, 1, 2, dtype=torch.float64)
    out, _ = clf.rnn(x)
    assert torch.allclose(clf(x), clf.head(out.mean(dim=0)), atol=1e-12)


def test_lengths_from_the_mask_channel():
    torch.manual_seed(0)
    clf = SequenceClassifier(2, 3, 2)
    x = torch.randn(6, 2, 2)
    mask = torch.tensor([[1, 1], [1, 1], [1, 0], [1, 0], [0, 0], [0, 0]], dtype=torch.float32)[..., None]
    logits, state = LengthsFromMask(clf)(torch.cat([x * mask, mask], dim=-1))
    assert state is None and torch.allclose(logits, clf(x * mask, torch.tensor([4, 2])))
