"""MinGRU and MinLSTM layers: the conventions of every rnnkit layer, and step mode = whole sequence."""
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit
from rnnkit import MinGRU, MinLSTM

DT = torch.float64
LAYERS = [MinGRU, MinLSTM]


@pytest.fixture(params=LAYERS, ids=lambda c: c.__name__)
def layer_class(request):
    return request.param


def _pair(layer_class, **kw):
    torch.manual_seed(0)
    fast = layer_class(3, 6, dtype=DT, **kw)
    slow = layer_class(3, 6, dtype=DT, engine="reference", **kw)
    slow.load_state_dict(fast.state_dict())
    return fast, slow


def test_stacked_bidirectional_equals_reference_engine(layer_class):
    fast, slow = _pair(layer_class, num_layers=3, bidirectional=True)
    x = torch.randn(9, 4, 3, dtype=DT, requires_grad=True)
    h0 = torch.randn(6, 4, 6, dtype=DT, requires_grad=True)
    lengths = torch.tensor([9, 2, 5, 1])
    (out, h_n), (want, want_h) = fast(x, h0, lengths=lengths), slow(x, h0, lengths=lengths)
    assert out.shape == (9, 4, 12) and h_n.shape == (6, 4, 6)
    torch.testing.assert_close(out, want, atol=1e-12, rtol=0)
    torch.testing.assert_close(h_n, want_h, atol=1e-12, rtol=0)
    w_out, w_h = torch.randn_like(out), torch.randn_like(h_n)  # random output gradients: order matters
    g_fast = torch.autograd.grad((out * w_out).sum() + (h_n * w_h).sum(), [x, h0, *fast.parameters()])
    g_slow = torch.autograd.grad((want * w_out).sum() + (want_h * w_h).sum(), [x, h0, *slow.parameters()])
    for a, b in zip(g_fast, g_slow):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


def test_one_layer_feeds_the_next(layer_class):
    torch.manual_seed(1)
    two = layer_class(3, 6, num_layers=2, dtype=DT)
    first, second = layer_class(3, 6, dtype=DT), layer_class(6, 6, dtype=DT)
    first.weight_ih_l0.data.copy_(two.weight_ih_l0)
    first.bias_ih_l0.data.copy_(two.bias_ih_l0)
    second.weight_ih_l0.data.copy_(two.weight_ih_l1)
    second.bias_ih_l0.data.copy_(two.bias_ih_l1)
    x = torch.randn(7, 2, 3, dtype=DT)
    torch.testing.assert_close(two(x)[0], second(first(x)[0])[0], atol=1e-13, rtol=0)


def test_parameter_names_and_shapes(layer_class):
    net = layer_class(3, 6, num_layers=2, bidirectional=True)
    gates = 2 if layer_class is MinGRU else 3
    shapes = {n: tuple(p.shape) for n, p in net.named_parameters()}
    assert shapes == {"weight_ih_l0": (gates * 6, 3), "bias_ih_l0": (gates * 6,),
                      "weight_ih_l0_reverse": (gates * 6, 3), "bias_ih_l0_reverse": (gates * 6,),
                      "weight_ih_l1": (gates * 6, 12), "bias_ih_l1": (gates * 6,),
                      "weight_ih_l1_reverse": (gates * 6, 12), "bias_ih_l1_reverse": (gates * 6,)}


def test_batch_first_unbatched_and_packed_agree(layer_class):
    torch.manual_seed(2)
    net = layer_class(3, 6, dtype=DT)
    x = torch.randn(8, 3, 3, dtype=DT)
    out, h = net(x)
    bf = layer_class(3, 6, batch_first=True, dtype=DT)
    bf.load_state_dict(net.state_dict())
    out_bf, h_bf = bf(x.transpose(0, 1))
    torch.testing.assert_close(out_bf.transpose(0, 1), out, atol=1e-13, rtol=0)
    torch.testing.assert_close(h_bf, h, atol=1e-13, rtol=0)
    one, h_one = net(x[:, 1])
    torch.testing.assert_close(one, out[:, 1], atol=1e-13, rtol=0)
    torch.testing.assert_close(h_one, h[:, 1], atol=1e-13, rtol=0)
    lengths = torch.tensor([8, 5, 2])
    packed_out, packed_h = net(pack_padded_sequence(x, lengths, enforce_sorted=False))
    padded, _ = pad_packed_sequence(packed_out)
    want, want_h = net(x, lengths=lengths)
    torch.testing.assert_close(padded, want[:padded.shape[0]], atol=1e-13, rtol=0)
    torch.testing.assert_close(packed_h, want_h, atol=1e-13, rtol=0)
    assert torch.all(want[5:, 1] == 0) and torch.all(want[2:, 2] == 0)


def test_streaming_one_step_at_a_time_equals_the_whole_sequence(layer_class):
    """Step mode (what generation uses): one-token calls with the carried state."""
    torch.manual_seed(3)
    net = layer_class(3, 6, num_layers=2, dtype=DT)
    x = torch.randn(50, 2, 3, dtype=DT)
    whole, h_whole = net(x)
    h, outs = None, []
    for t in range(50):
        y, h = net(x[t:t + 1], h)
        outs.append(y)
    torch.testing.assert_close(torch.cat(outs), whole, atol=1e-12, rtol=0)
    torch.testing.assert_close(h, h_whole, atol=1e-12, rtol=0)


def test_every_scan_mode_gives_the_same_layer_output(layer_class):
    torch.manual_seed(4)
    x = torch.randn(40, 2, 3, dtype=DT)
    outs = []
    x.requires_grad_()
    for mode in ("step", "chunked", "log", "fused", None):
        torch.manual_seed(5)
        net = layer_class(3, 6, num_layers=2, dtype=DT, scan_mode=mode)
        out, h_n = net(x)
        weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(6), dtype=DT)
        grads = torch.autograd.grad((out * weights).sum() + h_n.sum(), [x, *net.parameters()])
        outs.append((out, h_n, *grads))
    for got in outs[1:]:
        for a, b in zip(got, outs[0]):
            torch.testing.assert_close(a, b, atol=1e-11, rtol=0)


def test_explain_and_auto(layer_class):
    net = layer_class(3, 6)
    x = torch.randn(5, 2, 3)
    text = str(rnnkit.explain(net, x))
    assert text.startswith("engine='auto' -> runs 'scan'")
    assert text.splitlines()[1] == "  scan form 'fused' (compiled CPU loop), chosen for T=5 on cpu"
    forced = rnnkit.explain(layer_class(3, 6, scan_mode="log"), x).detail
    assert forced == "scan form 'log' (log-space scan inside chunks (Heinsen 2023)), requested for T=5 on cpu; " \
                     "compiled loop: not requested"
    assert "native: rejected, torch's fused kernels compute ElmanCell, LSTMCell and GRUCell only" in text


def test_bad_arguments_name_what_was_expected(layer_class):
    name = layer_class.__name__
    with pytest.raises(ValueError, match=f"{name}: unknown scan_mode 'fast'; valid values are 'step'"):
        layer_class(3, 6, scan_mode="fast")
    with pytest.raises(ValueError, match="unknown activation 'tanh'"):
        layer_class(3, 6, activation="tanh")
    with pytest.raises(ValueError, match=f"{name}: engine 'bptt' cannot run"):
        layer_class(3, 6, engine="bptt")(torch.randn(2, 1, 3))
    net = layer_class(3, 6, num_layers=2)
    with pytest.raises(ValueError, match=r"expected hx of shape \(2, 4, 6\)"):
        net(torch.randn(5, 4, 3), torch.zeros(1, 4, 6))
    with pytest.raises(ValueError, match="scan_mode='log' needs b_t > 0"):
        layer_class(3, 6, scan_mode="log", activation="identity")(torch.randn(30, 1, 3))


def test_repr_names_the_options(layer_class):
    net = layer_class(3, 6, num_layers=2, bidirectional=True, scan_mode="chunked", activation="identity")
    assert repr(net).startswith(f"{layer_class.__name__}(3, 6, num_layers=2, bidirectional=True, "
                                "activation='identity', scan_mode='chunked'")
