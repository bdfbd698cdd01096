"""``layer.step``: one time step at a time with the state carried equals ``forward`` over the sequence."""
import pytest
import torch

import rnnkit
from rnnkit.models import LanguageModel

DT = torch.float64
LAYERS = {
    "rnn-relu": lambda **kw: rnnkit.RNN(3, 4, nonlinearity="relu", **kw),
    "lstm-proj": lambda **kw: rnnkit.LSTM(3, 4, proj_size=2, **kw),
    "gru-ln": lambda **kw: rnnkit.GRU(3, 4, layer_norm=True, **kw),
    "mingru": lambda **kw: rnnkit.MinGRU(3, 4, **kw),
}


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("name", list(LAYERS))
def test_stepping_through_a_sequence_equals_the_whole_forward(name, batch_first):
    torch.manual_seed(0)
    layer = LAYERS[name](num_layers=2, batch_first=batch_first, dtype=DT)
    x = torch.randn(2, 7, 3, dtype=DT) if batch_first else torch.randn(7, 2, 3, dtype=DT)
    whole, h_whole = layer(x)
    state, outs = None, []
    for t in range(7):
        y, state = layer.step(x[:, t] if batch_first else x[t], state)
        outs.append(y)
    torch.testing.assert_close(torch.stack(outs, dim=1 if batch_first else 0), whole, atol=1e-12, rtol=0)
    for a, b in zip(state if isinstance(state, tuple) else (state,), h_whole if isinstance(h_whole, tuple) else (h_whole,)):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_an_unbatched_step_takes_and_gives_unbatched_tensors():
    layer = rnnkit.GRU(3, 4)
    y, h = layer.step(torch.randn(3))
    assert y.shape == (4,) and h.shape == (1, 4)
    y2, _ = layer.step(torch.randn(3), h)
    assert y2.shape == (4,)


def test_a_bidirectional_layer_refuses_to_step():
    with pytest.raises(ValueError, match="step needs a unidirectional layer"):
        rnnkit.LSTM(3, 4, bidirectional=True).step(torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"expected x_t with 2 dims \(B, I\) or 1 dim"):
        rnnkit.LSTM(3, 4).step(torch.randn(1, 2, 3))


def test_a_language_models_step_is_its_forward_one_token_at_a_time():
    torch.manual_seed(0)
    lm = LanguageModel(9, 5, 6, num_layers=2).double().eval()
    ids = torch.randint(0, 9, (6, 3))
    logits, _ = lm(ids)
    state, stepped = None, []
    for t in range(6):
        out, state = lm.step(ids[t], state)
        stepped.append(out)
    torch.testing.assert_close(torch.stack(stepped), logits, atol=1e-12, rtol=0)
