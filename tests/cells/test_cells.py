"""Cells: one step equals torch.nn's cells; gradcheck through the reference engine."""
import pytest
import torch
from torch import nn

from rnnkit.cells import Cell, ElmanCell, GRUCell, LSTMCell
from rnnkit.kernels import reference
from tests.gradcheck_utils import gradcheck_all

DT = torch.float64

CELLS = {
    "elman-tanh": lambda ln: ElmanCell(3, 4, nonlinearity="tanh", layer_norm=ln, dtype=DT),
    "elman-relu": lambda ln: ElmanCell(3, 4, nonlinearity="relu", layer_norm=ln, dtype=DT),
    "lstm": lambda ln: LSTMCell(3, 4, layer_norm=ln, dtype=DT),
    "lstm-proj": lambda ln: LSTMCell(3, 4, proj_size=2, layer_norm=ln, dtype=DT),
    "gru": lambda ln: GRUCell(3, 4, layer_norm=ln, dtype=DT),
}


from tests.gradcheck_utils import flat as _flat  # noqa: E402


def _torch_twin(name, cell):
    """torch.nn's single-step cell with the same weights."""
    if name.startswith("elman"):
        twin = nn.RNNCell(3, 4, nonlinearity=cell.nonlinearity, dtype=DT)
    elif name == "lstm":
        twin = nn.LSTMCell(3, 4, dtype=DT)
    else:
        twin = nn.GRUCell(3, 4, dtype=DT)
    twin.load_state_dict(cell.state_dict())
    return twin


@pytest.mark.parametrize("name", ["elman-tanh", "elman-relu", "lstm", "gru"])
def test_step_equals_torch_cell(name):
    torch.manual_seed(0)
    cell = CELLS[name](False)
    twin = _torch_twin(name, cell)
    x = torch.randn(5, 3, dtype=DT)
    state = cell.init_state(5, dtype=DT)
    state = tuple(torch.randn_like(s) for s in state) if isinstance(state, tuple) else torch.randn_like(state)
    y, new = cell(x, state)
    expected = twin(x, state)
    for a, b in zip(_flat(new), _flat(expected)):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    torch.testing.assert_close(y, _flat(expected)[0], atol=1e-12, rtol=0)


def test_lstm_projection_matches_torch_lstm_one_step():
    torch.manual_seed(0)
    cell = LSTMCell(3, 4, proj_size=2, dtype=DT)
    ref = nn.LSTM(3, 4, proj_size=2, dtype=DT)
    ref.load_state_dict({f"{k}_l0": v for k, v in cell.state_dict().items()})
    x = torch.randn(1, 5, 3, dtype=DT)
    h0, c0 = torch.randn(1, 5, 2, dtype=DT), torch.randn(1, 5, 4, dtype=DT)
    _, (h1, c1) = ref(x, (h0, c0))
    y, (h, c) = cell(x[0], (h0[0], c0[0]))
    torch.testing.assert_close(h, h1[0], atol=1e-12, rtol=0)
    torch.testing.assert_close(c, c1[0], atol=1e-12, rtol=0)
    assert y is h


@pytest.mark.parametrize("name", list(CELLS))
def test_unbatched_step(name):
    cell = CELLS[name](False)
    x = torch.randn(3, dtype=DT)
    y, state = cell(x)
    y_b, state_b = cell(x.unsqueeze(0))
    torch.testing.assert_close(y, y_b.squeeze(0))
    for a, b in zip(_flat(state), _flat(state_b)):
        torch.testing.assert_close(a, b.squeeze(0))


def _ln(a, gain, bias=None, eps=1e-5):
    """Layer norm written out: (a - mean) / sqrt(var + eps) * gain + bias over the last dim."""
    mean = a.mean(-1, keepdim=True)
    var = ((a - mean) ** 2).mean(-1, keepdim=True)
    out = (a - mean) / torch.sqrt(var + eps) * gain
    return out if bias is None else out + bias


def _gate_ln(a, gain, gates):
    B = a.shape[0]
    return _ln(a.reshape(B, gates, -1), gain.reshape(gates, -1)).reshape(B, -1)


def test_layer_norm_lstm_follows_ba_et_al():
    torch.manual_seed(0)
    cell = LSTMCell(3, 4, layer_norm=True, dtype=DT)
    with torch.no_grad():
        for p in cell.parameters():
            p.copy_(torch.randn_like(p))
    x, h, c = torch.randn(5, 3, dtype=DT), torch.randn(5, 4, dtype=DT), torch.randn(5, 4, dtype=DT)
    gates = (_gate_ln(x @ cell.weight_ih.T, cell.ln_weight_ih, 4) + _gate_ln(h @ cell.weight_hh.T, cell.ln_weight_hh, 4)
             + cell.bias_ih + cell.bias_hh)
    i, f, g, o = gates.sigmoid()[:, :4], gates.sigmoid()[:, 4:8], gates.tanh()[:, 8:12], gates.sigmoid()[:, 12:]
    c_new = f * c + i * g
    h_new = o * torch.tanh(_ln(c_new, cell.ln_weight_c, cell.ln_bias_c))
    y, (h1, c1) = cell(x, (h, c))
    torch.testing.assert_close(c1, c_new, atol=1e-12, rtol=0)
    torch.testing.assert_close(h1, h_new, atol=1e-12, rtol=0)


def test_layer_norm_gru_and_elman_follow_ba_et_al():
    torch.manual_seed(0)
    x, h = torch.randn(5, 3, dtype=DT), torch.randn(5, 4, dtype=DT)
    gru = GRUCell(3, 4, layer_norm=True, dtype=DT)
    with torch.no_grad():
        for p in gru.parameters():
            p.copy_(torch.randn_like(p))
    gi = _gate_ln(x @ gru.weight_ih.T, gru.ln_weight_ih, 3) + gru.bias_ih
    gh = _gate_ln(h @ gru.weight_hh.T, gru.ln_weight_hh, 3) + gru.bias_hh
    r, z = (gi[:, :4] + gh[:, :4]).sigmoid(), (gi[:, 4:8] + gh[:, 4:8]).sigmoid()
    n = torch.tanh(gi[:, 8:] + r * gh[:, 8:])
    torch.testing.assert_close(gru(x, h)[0], (1 - z) * n + z * h, atol=1e-12, rtol=0)
    rnn = ElmanCell(3, 4, nonlinearity="relu", layer_norm=True, dtype=DT)
    expected = torch.relu(_ln(x @ rnn.weight_ih.T, rnn.ln_weight_ih) + rnn.bias_ih
                          + _ln(h @ rnn.weight_hh.T, rnn.ln_weight_hh) + rnn.bias_hh)
    torch.testing.assert_close(rnn(x, h)[0], expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("ln", [False, True], ids=["plain", "layernorm"])
@pytest.mark.parametrize("name", list(CELLS))
def test_gradcheck_reference_engine(name, ln, with_lengths, reverse):
    torch.manual_seed(1)
    cell = CELLS[name](ln)
    if ln:  # move the gains off 1 so their gradients are checked at a generic point
        with torch.no_grad():
            for n, p in cell.named_parameters():
                if n.startswith("ln_"):
                    p.add_(0.3 * torch.randn_like(p))
    T, B = 4, 3
    x = torch.randn(T, B, cell.input_size, dtype=DT)
    state = cell.init_state(B, dtype=DT)
    state = tuple(torch.randn_like(s) for s in state) if isinstance(state, tuple) else torch.randn_like(state)
    lengths = torch.tensor([4, 2, 3]) if with_lengths else None
    assert gradcheck_all(cell, lambda c, x, s: reference.run(c, x, s, lengths, reverse), x, state)


def test_init_state_structure():
    assert isinstance(ElmanCell(2, 3).init_state(4), torch.Tensor)
    h, c = LSTMCell(2, 5, proj_size=3).init_state(4)
    assert h.shape == (4, 3) and c.shape == (4, 5)
    assert GRUCell(2, 3).init_state(4, dtype=DT).dtype == DT


def test_cell_base_is_abstract():
    with pytest.raises(TypeError):
        Cell(2, 3)


def test_a_bound_cell_keeps_its_state_dict_under_its_own_names():
    import rnnkit

    torch.manual_seed(0)
    layer = rnnkit.LSTM(3, 4, 2, bidirectional=True, layer_norm=True, dtype=DT)
    cell = layer.cells[3]  # layer 1, reverse
    saved = cell.state_dict()
    assert list(saved) == [n for n, _ in cell.named_parameters()]
    assert "weight_hh" in saved and "ln_bias_c" in saved
    assert torch.equal(saved["weight_hh"], layer.weight_hh_l1_reverse.detach())
    twin = LSTMCell(8, 4, layer_norm=True, dtype=DT)  # layer 1 reads D*H = 8 features
    twin.load_state_dict(saved)  # a free cell takes a bound cell's state_dict
    fresh = {k: torch.randn_like(v) for k, v in saved.items()}
    cell.load_state_dict(fresh)  # and a bound cell loads into the layer's tensors
    assert torch.equal(layer.weight_hh_l1_reverse.detach(), fresh["weight_hh"])
    assert layer.weight_hh_l1_reverse is cell.weight_hh  # loaded in place: the layer's parameter itself
    with pytest.raises(RuntimeError, match=r"missing keys \['ln_bias_c'\]"):
        cell.load_state_dict({k: v for k, v in fresh.items() if k != "ln_bias_c"})
    with pytest.raises(RuntimeError, match=r"expected weight_hh of shape \(16, 4\), got \(4, 4\)"):
        cell.load_state_dict({**fresh, "weight_hh": torch.zeros(4, 4, dtype=DT)})


def test_converting_a_bound_cell_says_to_convert_its_layer():
    import rnnkit

    layer = rnnkit.GRU(3, 4)
    with pytest.raises(RuntimeError, match=r"GRUCell: this cell's tensors belong to the GRU layer that adopted them "
                                           r"\(as weight_ih_l0, weight_hh_l0, ...\); convert the layer instead"):
        layer.cells[0].double()
    with pytest.raises(RuntimeError, match="convert the layer instead"):
        layer.cells[0].to(torch.float64)
    layer.double()  # the layer converts every cell alike
    assert layer.cells[0].weight_hh.dtype == torch.float64
    assert GRUCell(3, 4).double().weight_hh.dtype == torch.float64  # a free cell converts itself


@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_step_is_built_on_the_cells_own_gates(name):
    torch.manual_seed(0)
    cell = CELLS[name](True)
    x = torch.randn(5, 3, dtype=DT)
    state = tuple(torch.randn_like(s) for s in _flat(cell.init_state(5, dtype=DT)))
    state = state if len(state) > 1 else state[0]
    g = cell.gate_activations(x, state)
    _, new = cell.step(x, state)
    if name == "lstm":
        torch.testing.assert_close(new[1], g["f"] * state[1] + g["i"] * g["g"], rtol=0, atol=0)
    else:
        torch.testing.assert_close(new, (1 - g["z"]) * g["n"] + g["z"] * state, rtol=0, atol=0)


def test_a_subclass_that_changes_the_gates_is_not_served_by_built_in_engines():
    from rnnkit.cells.base import runs_as
    from rnnkit.kernels import bptt, native

    class Leaky(GRUCell):
        def gate_activations(self, x_t, h):
            gates = super().gate_activations(x_t, h)
            return {**gates, "z": 0.5 * gates["z"]}

    cell = Leaky(3, 4, dtype=DT)
    assert runs_as(GRUCell(3, 4), GRUCell) and not runs_as(cell, GRUCell)
    assert "not Leaky" in native.unsupported(cell, DT) and "not Leaky" in bptt.unsupported(cell, DT)
