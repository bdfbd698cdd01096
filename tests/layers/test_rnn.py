"""Drop-in equivalence: rnnkit.RNN/LSTM/GRU against torch.nn with the same weights.

Same outputs, final states, and gradients of the input, the initial state and every
parameter (by name), under random output gradients, in float64 to 1e-10.
"""
import itertools

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

import rnnkit

TOL = 1e-10
T, B, I, H, P = 6, 4, 3, 5, 2

KINDS = {
    "rnn-tanh": (nn.RNN, rnnkit.RNN, {"nonlinearity": "tanh"}),
    "rnn-relu": (nn.RNN, rnnkit.RNN, {"nonlinearity": "relu"}),
    "lstm": (nn.LSTM, rnnkit.LSTM, {}),
    "lstm-proj": (nn.LSTM, rnnkit.LSTM, {"proj_size": P}),
    "gru": (nn.GRU, rnnkit.GRU, {}),
}
INPUTS = ("full", "padded", "packed", "unbatched")


ENGINES = ("reference", "bptt", "native")


def _cases():
    for engine, kind, layers, bidi, bf, bias, inp in itertools.product(
            ENGINES, KINDS, (1, 3), (False, True), (False, True), (True, False), INPUTS):
        tag = (f"{engine}-{kind}-L{layers}-{'bi' if bidi else 'uni'}-{'bf' if bf else 'tf'}-"
               f"{'bias' if bias else 'nobias'}-{inp}")
        yield pytest.param(engine, kind, layers, bidi, bf, bias, inp, id=tag)


def _make_pair(engine, kind, layers, bidi, bf, bias):
    torch_cls, kit_cls, extra = KINDS[kind]
    kwargs = dict(num_layers=layers, bidirectional=bidi, batch_first=bf, bias=bias, dtype=torch.float64, **extra)
    ref = torch_cls(I, H, **kwargs)
    kit = kit_cls(I, H, engine=engine, **kwargs)
    kit.load_state_dict(ref.state_dict())
    return ref, kit


def _initial_state(kind, layers, bidi, unbatched, gen):
    LD = layers * (2 if bidi else 1)
    h_size = P if kind == "lstm-proj" else H
    batch = () if unbatched else (B,)
    h0 = torch.randn(LD, *batch, h_size, generator=gen, dtype=torch.float64, requires_grad=True)
    if kind.startswith("lstm"):
        c0 = torch.randn(LD, *batch, H, generator=gen, dtype=torch.float64, requires_grad=True)
        return (h0, c0), [h0, c0]
    return h0, [h0]


def _loss(output, state, gen):
    """A random linear functional of every output: its gradients are random output gradients."""
    if isinstance(output, PackedSequence):
        output = output.data
    total = (output * torch.randn(output.shape, generator=gen, dtype=torch.float64)).sum()
    for s in state if isinstance(state, tuple) else (state,):
        total = total + (s * torch.randn(s.shape, generator=gen, dtype=torch.float64)).sum()
    return total


def _run(module, inp, x, lengths, hx, bf):
    """Run ``module`` on ``x`` presented as ``inp``; return (padded output, state)."""
    if inp in ("full", "unbatched"):
        return module(x, hx)
    if inp == "padded" and isinstance(module, rnnkit.Recurrent):
        return module(x, hx, lengths=lengths)
    packed = pack_padded_sequence(x, lengths, batch_first=bf, enforce_sorted=False)
    out, state = module(packed, hx)
    if inp == "packed":
        return out, state
    padded, _ = pad_packed_sequence(out, batch_first=bf, total_length=T)  # torch's view of "padded"
    return padded, state


@pytest.mark.parametrize("engine,kind,layers,bidi,bf,bias,inp", list(_cases()))
def test_same_numbers_as_torch(engine, kind, layers, bidi, bf, bias, inp):
    ref, kit = _make_pair(engine, kind, layers, bidi, bf, bias)
    gen = torch.Generator().manual_seed(1234)
    unbatched = inp == "unbatched"
    shape = (T, I) if unbatched else ((B, T, I) if bf else (T, B, I))
    x = torch.randn(shape, generator=gen, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([4, 6, 1, 5])  # unsorted, one full, one of length 1
    hx, leaves = _initial_state(kind, layers, bidi, unbatched, gen)

    results = []
    for module in (ref, kit):
        out, state = _run(module, inp, x, lengths, hx, bf)
        loss = _loss(out, state, torch.Generator().manual_seed(99))
        grads = torch.autograd.grad(loss, [x, *leaves, *module.parameters()])
        results.append((out, state, grads))
    (out_r, st_r, g_r), (out_k, st_k, g_k) = results

    if isinstance(out_r, PackedSequence):
        assert isinstance(out_k, PackedSequence)
        assert torch.equal(out_r.batch_sizes, out_k.batch_sizes)
        assert torch.equal(out_r.sorted_indices, out_k.sorted_indices)
        assert torch.equal(out_r.unsorted_indices, out_k.unsorted_indices)
        out_r, out_k = out_r.data, out_k.data
    assert out_k.shape == out_r.shape
    torch.testing.assert_close(out_k, out_r, atol=TOL, rtol=0)
    st_r = st_r if isinstance(st_r, tuple) else (st_r,)
    st_k = st_k if isinstance(st_k, tuple) else (st_k,)
    assert len(st_k) == len(st_r)
    for a, b in zip(st_k, st_r):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, atol=TOL, rtol=0)
    names = ["input", *[f"hx{k}" for k in range(len(leaves))], *[n for n, _ in ref.named_parameters()]]
    assert [n for n, _ in kit.named_parameters()] == names[1 + len(leaves):]
    for name, a, b in zip(names, g_k, g_r):
        torch.testing.assert_close(a, b, atol=TOL, rtol=0, msg=lambda m, name=name: f"grad of {name}: {m}")


@pytest.mark.parametrize("kind", list(KINDS))
def test_same_seed_gives_same_weights_as_torch(kind):
    torch_cls, kit_cls, extra = KINDS[kind]
    torch.manual_seed(7)
    ref = torch_cls(I, H, num_layers=2, bidirectional=True, **extra)
    next_after_ref = torch.rand(3)
    torch.manual_seed(7)
    kit = kit_cls(I, H, num_layers=2, bidirectional=True, **extra)
    next_after_kit = torch.rand(3)
    ref_sd, kit_sd = ref.state_dict(), kit.state_dict()
    assert list(ref_sd) == list(kit_sd)
    for key in ref_sd:
        assert torch.equal(ref_sd[key], kit_sd[key]), key
    assert torch.equal(next_after_ref, next_after_kit)  # the generator advanced alike


def test_positional_arguments_follow_torch():
    rnn = rnnkit.RNN(3, 4, 2, "relu", False, True, 0.0, True)
    assert (rnn.num_layers, rnn.nonlinearity, rnn.bias, rnn.batch_first, rnn.bidirectional) == (2, "relu", False, True, True)
    lstm = rnnkit.LSTM(3, 4, 1, True, False, 0.0, False, 2)
    assert lstm.proj_size == 2 and lstm.weight_hr_l0.shape == (2, 4)
    gru = rnnkit.GRU(3, 4, 1, True, True)
    assert gru.batch_first and gru.weight_hh_l0.shape == (12, 4)


def test_repr_matches_torch():
    assert repr(rnnkit.LSTM(3, 4, 2, proj_size=2, bidirectional=True)) == repr(
        nn.LSTM(3, 4, 2, proj_size=2, bidirectional=True))
    assert repr(rnnkit.GRU(3, 4, batch_first=True, bias=False)) == repr(nn.GRU(3, 4, batch_first=True, bias=False))


def test_dropout_acts_between_layers_in_training_only():
    torch.manual_seed(0)
    net = rnnkit.GRU(3, 4, num_layers=2, dropout=1.0, dtype=torch.float64)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    # dropout=1 zeroes everything the second layer receives: its output no longer depends on x
    out_train, _ = net.train()(x)
    out_other, _ = net(torch.randn(5, 2, 3, dtype=torch.float64))
    torch.testing.assert_close(out_train, out_other, atol=0, rtol=0)
    # in eval mode dropout is off and the output equals torch.nn's (which ignores dropout in eval)
    ref = nn.GRU(3, 4, num_layers=2, dropout=1.0, dtype=torch.float64)
    ref.load_state_dict(net.state_dict())
    torch.testing.assert_close(net.eval()(x)[0], ref.eval()(x)[0], atol=TOL, rtol=0)


def test_dropout_with_one_layer_warns_like_torch():
    with pytest.warns(UserWarning, match="dropout"):
        rnnkit.LSTM(3, 4, dropout=0.5)


def test_layer_norm_changes_names_only_by_adding_gains():
    net = rnnkit.LSTM(3, 4, layer_norm=True)
    names = [n for n, _ in net.named_parameters()]
    assert names[:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert set(names[4:]) == {"ln_weight_ih_l0", "ln_weight_hh_l0", "ln_weight_c_l0", "ln_bias_c_l0"}
    # loading torch.nn weights with strict=False leaves the gains at their identity values
    missing, unexpected = net.load_state_dict(nn.LSTM(3, 4).state_dict(), strict=False)
    assert sorted(missing) == sorted(names[4:]) and unexpected == []


def test_all_weights_in_torch_order():
    kit = rnnkit.LSTM(3, 4, 2, proj_size=2, bidirectional=True)
    ref = nn.LSTM(3, 4, 2, proj_size=2, bidirectional=True)
    assert [[tuple(p.shape) for p in ws] for ws in kit.all_weights] == [
        [tuple(p.shape) for p in ws] for ws in ref.all_weights]
    kit.flatten_parameters()  # accepted, like torch.nn
