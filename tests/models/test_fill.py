"""FillModel: no head sees the word it predicts; left reads only the words before, right only those after."""
import pytest
import torch

from rnnkit.models import FillModel


@pytest.fixture
def model():
    torch.manual_seed(0)
    return FillModel(30, 6, 5).double().eval()


def test_shapes_and_an_empty_state(model):
    ids = torch.randint(0, 30, (9, 2, 1))
    logits, state = model(ids)
    assert logits.shape == (9, 2, 3, 30) and state.numel() == 0
    assert torch.equal(model(ids[..., 0])[0], logits)  # (T, B) ids read the same


@pytest.mark.parametrize("t", [0, 4, 8])
def test_changing_a_word_moves_only_the_heads_allowed_to_see_it(model, t):
    torch.manual_seed(1)
    ids = torch.randint(1, 30, (9, 3))
    other = ids.clone()
    other[t] = (ids[t] % 29) + 1  # a different word at t, every sequence
    a, b = model(ids)[0], model(other)[0]
    moved = (a - b).abs().amax(dim=(1, 3)) > 1e-12  # (T, 3): which heads at which steps changed
    left, right, both = moved[:, 0], moved[:, 1], moved[:, 2]
    steps = torch.arange(9)
    assert torch.equal(left, steps > t)  # the left head at s has read x_0 .. x_(s-1)
    assert torch.equal(right, steps < t)  # the right head at s has read x_(s+1) .. x_(T-1)
    assert torch.equal(both, steps != t)  # no head ever sees its own word


def test_a_carried_state_or_resets_is_refused(model):
    ids = torch.zeros(4, 1, dtype=torch.long)
    for kwargs in ({"state": torch.zeros(0)}, {"resets": torch.zeros(4, 1, dtype=torch.bool)}):
        with pytest.raises(ValueError, match="FillModel reads each window whole, both ways.*leave --tbptt unset"):
            model(ids, **kwargs)


def test_bad_settings_name_the_class_and_the_setting():
    with pytest.raises(ValueError, match="FillModel: unknown cell 'nope'"):
        FillModel(10, 4, 4, cell="nope")
    with pytest.raises(ValueError, match="FillModel: expected vocab_size >= 2, got 1"):
        FillModel(1, 4, 4)
