"""Recurrent: any Cell, stacked, bidirectional, packed; the layer owns time, the cell one step."""
import copy
from functools import partial

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit
from rnnkit.cells import Cell
from tests.gradcheck_utils import gradcheck_all

DT = torch.float64


class PeepholeLSTM(Cell):
    """LSTM with peepholes (Gers & Schmidhuber 2000): gates also see the cell state."""

    def __init__(self, input_size, hidden_size):
        super().__init__(input_size, hidden_size)
        self.weight_ih = nn.Parameter(torch.randn(4 * hidden_size, input_size, dtype=DT) * 0.3)
        self.weight_hh = nn.Parameter(torch.randn(4 * hidden_size, hidden_size, dtype=DT) * 0.3)
        self.bias = nn.Parameter(torch.zeros(4 * hidden_size, dtype=DT))
        self.peep = nn.Parameter(torch.randn(3, hidden_size, dtype=DT) * 0.3)  # w_ci, w_cf, w_co

    def init_state(self, batch, device=None, dtype=None):
        zeros = torch.zeros(batch, self.hidden_size, device=device, dtype=dtype)
        return zeros, zeros

    def step(self, x_t, state):
        h, c = state
        i, f, g, o = (x_t @ self.weight_ih.T + h @ self.weight_hh.T + self.bias).chunk(4, dim=1)
        i = torch.sigmoid(i + self.peep[0] * c)
        f = torch.sigmoid(f + self.peep[1] * c)
        c = f * c + i * torch.tanh(g)
        h = torch.sigmoid(o + self.peep[2] * c) * torch.tanh(c)
        return h, (h, c)


def _peephole_net(**kwargs):
    torch.manual_seed(0)
    return rnnkit.Recurrent(partial(PeepholeLSTM, hidden_size=3), input_size=2, **kwargs)


def test_peephole_parameters_get_layer_names():
    net = _peephole_net(num_layers=2, bidirectional=True)
    names = [n for n, _ in net.named_parameters()]
    assert names[:4] == ["weight_ih_l0", "weight_hh_l0", "bias_l0", "peep_l0"]
    assert "peep_l1_reverse" in names and len(names) == 16
    assert net.weight_ih_l1.shape == (12, 6)  # layer 1 reads both directions of layer 0
    cell = net.cells[1]  # layer 0, reverse direction
    assert [n for n, _ in cell.named_parameters()] == ["weight_ih", "weight_hh", "bias", "peep"]
    assert cell.peep is net.peep_l0_reverse


def test_peephole_stacked_bidirectional_packed_gradcheck():
    net = _peephole_net(num_layers=2, bidirectional=True)
    T, B = 5, 3
    x = torch.randn(T, B, 2, dtype=DT)
    lengths = torch.tensor([3, 5, 2])  # unsorted
    h0 = (torch.randn(4, B, 3, dtype=DT), torch.randn(4, B, 3, dtype=DT))

    def run(module, x, state):
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        out, final = module(packed, state)
        return out.data, final

    assert gradcheck_all(net, run, x, h0)


def test_peephole_packed_equals_padded_with_lengths_and_each_sequence_alone():
    net = _peephole_net(num_layers=2, bidirectional=True)
    T, B = 5, 3
    x = torch.randn(T, B, 2, dtype=DT)
    lengths = torch.tensor([3, 5, 2])
    packed_out, (h_p, c_p) = net(pack_padded_sequence(x, lengths, enforce_sorted=False))
    padded_out, (h_l, c_l) = net(x, lengths=lengths)
    unpacked, _ = pad_packed_sequence(packed_out, total_length=T)
    torch.testing.assert_close(unpacked, padded_out, atol=0, rtol=0)
    torch.testing.assert_close(h_p, h_l, atol=0, rtol=0)
    for b, L in enumerate(lengths.tolist()):
        alone_out, (h_a, c_a) = net(x[:L, b])  # unbatched (L, I)
        torch.testing.assert_close(padded_out[:L, b], alone_out, atol=1e-14, rtol=0)
        torch.testing.assert_close(h_l[:, b], h_a, atol=1e-14, rtol=0)
        torch.testing.assert_close(c_l[:, b], c_a, atol=1e-14, rtol=0)


def test_recurrent_of_builtin_cells_equals_the_dropin():
    torch.manual_seed(0)
    gen = rnnkit.Recurrent(partial(rnnkit.LSTMCell, hidden_size=4, proj_size=2, dtype=DT), input_size=3,
                           num_layers=2, bidirectional=True, batch_first=True)
    lstm = rnnkit.LSTM(3, 4, 2, batch_first=True, bidirectional=True, proj_size=2, dtype=DT)
    lstm.load_state_dict(gen.state_dict())
    x = torch.randn(2, 5, 3, dtype=DT)
    out_g, (h_g, c_g) = gen(x)
    out_d, (h_d, c_d) = lstm(x)
    torch.testing.assert_close(out_g, out_d, atol=0, rtol=0)
    torch.testing.assert_close(c_g, c_d, atol=0, rtol=0)


def test_deepcopy_gives_an_independent_layer():
    net = rnnkit.GRU(3, 4, dtype=DT)
    twin = copy.deepcopy(net)
    x = torch.randn(5, 2, 3, dtype=DT)
    torch.testing.assert_close(twin(x)[0], net(x)[0], atol=0, rtol=0)
    with torch.no_grad():
        twin.weight_hh_l0.add_(1.0)
    assert not torch.allclose(twin(x)[0], net(x)[0])
    assert twin.cells[0].weight_hh is twin.weight_hh_l0


def test_dtype_conversion_and_functional_call_reach_the_cells():
    net = rnnkit.LSTM(3, 4).double()
    x = torch.randn(5, 2, 3, dtype=DT)
    out, _ = net(x)
    assert out.dtype == DT
    zeros = {n: torch.zeros_like(p) for n, p in net.named_parameters()}
    out0, (h0, c0) = torch.func.functional_call(net, zeros, (x,))
    assert torch.count_nonzero(out0) == 0 and torch.count_nonzero(c0) == 0


def test_cell_factory_must_return_a_cell():
    with pytest.raises(TypeError, match="expected cell_factory to return an rnnkit.cells.Cell, got Linear"):
        rnnkit.Recurrent(lambda n: nn.Linear(n, 3), input_size=2)
    with pytest.raises(TypeError, match="expected cell_factory to be a callable"):
        rnnkit.Recurrent(3, input_size=2)
    with pytest.raises(ValueError, match=r"cell_factory\(2\) returned a cell with input_size=5"):
        rnnkit.Recurrent(lambda n: rnnkit.GRUCell(5, 3), input_size=2)


def test_engine_names():
    assert rnnkit.Recurrent(partial(rnnkit.GRUCell, hidden_size=3), input_size=2, engine="reference").engine == "reference"
    with pytest.raises(ValueError, match="unknown engine 'fast'; valid values are 'auto', 'native', 'fused', 'triton', 'bptt', 'scan', 'reference'"):
        rnnkit.GRU(2, 3, engine="fast")
