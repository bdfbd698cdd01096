"""AMP autocast on the CPU (bfloat16), inference and training, on every engine: torch.nn's numbers to
bfloat16's rounding. As autocast runs torch.nn's RNNs, the input, state and weights of each layer are cast to
bfloat16 and the whole time loop runs in it; gradients reach the float32 weights in float32. Where torch.nn's
own layer fails under autocast (oneDNN's bfloat16 LSTM needs AVX-512 BF16), ``auto`` runs bptt instead."""
import pytest
import torch

import rnnkit

ENGINES = ["auto", "bptt", "fused", "native", "reference"]


def pair(kind, engine, layers=2):
    torch.manual_seed(0)
    ours = getattr(rnnkit, kind)(3, 4, layers, engine=engine)
    theirs = getattr(torch.nn, kind)(3, 4, layers)
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


def torch_runs_it(layer, x) -> bool:
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            layer(x)
        return True
    except RuntimeError:
        return False


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_inference_under_autocast_gives_torch_nns_numbers_to_bfloat16_rounding(kind, engine):
    ours, theirs = pair(kind, engine)
    x = torch.randn(5, 2, 3)
    if engine == "native" and not torch_runs_it(theirs, x):
        pytest.skip(f"torch.nn.{kind} itself fails under CPU bfloat16 autocast on this CPU")
    with torch.no_grad():
        want = theirs(x)[0]  # float32: the reference both bfloat16 runs are held to
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got = ours(x)[0]
    torch.testing.assert_close(got.float(), want, atol=3e-2, rtol=0)  # bfloat16 keeps about 3 digits


@pytest.mark.parametrize("engine", ["auto", "bptt", "fused", "reference"])
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_training_under_autocast_gives_float32_gradients_near_float32s(kind, engine):
    ours, theirs = pair(kind, engine)
    x = torch.randn(5, 2, 3)
    theirs(x)[0].square().sum().backward()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = ours(x)[0]
    out.float().square().sum().backward()
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        assert p.grad.dtype == torch.float32, name
        scale = float(q.grad.abs().max()) + 1e-3
        assert float((p.grad - q.grad).abs().max()) <= 5e-2 * scale, name  # bfloat16 rounding, through 5 steps


def test_auto_runs_a_wide_lstm_under_autocast_where_onednn_cannot():
    ours, _ = pair("LSTM", "auto")
    x = torch.randn(4, 64, 3)  # a batch wide enough that auto takes torch's kernel outside autocast
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert ours(x)[0].dtype == torch.bfloat16
