"""MinGRUCell and MinLSTMCell: the paper's equations, the log-space form, g, and the cell contract."""
import pytest
import torch
import torch.nn.functional as F

from rnnkit.cells import LinearCell, MinGRUCell, MinLSTMCell
from rnnkit.cells.linear import g, log_g

DT = torch.float64


def test_g_is_continuous_positive_and_log_g_is_its_log():
    x = torch.linspace(-30, 30, 6001, dtype=DT)
    assert torch.all(g(x) > 0)
    torch.testing.assert_close(g(torch.tensor([0.0], dtype=DT)), torch.tensor([0.5], dtype=DT))
    eps = torch.tensor([-1e-9, 1e-9], dtype=DT)
    assert abs(float(g(eps)[1] - g(eps)[0])) < 1e-8  # both sides meet at 1/2
    torch.testing.assert_close(log_g(x), torch.log(g(x)), atol=1e-12, rtol=0)
    assert torch.isfinite(log_g(torch.tensor([-200.0, 200.0], dtype=DT))).all()


def test_min_gru_step_is_the_papers_equation():
    torch.manual_seed(0)
    cell = MinGRUCell(3, 4, dtype=DT)
    x, h = torch.randn(5, 3, dtype=DT), torch.randn(5, 4, dtype=DT)
    k, p = F.linear(x, cell.weight_ih, cell.bias_ih).chunk(2, dim=1)
    z = torch.sigmoid(k)
    h_tilde = torch.where(p >= 0, p + 0.5, torch.sigmoid(p))
    y, h_new = cell(x, h)
    torch.testing.assert_close(h_new, (1 - z) * h + z * h_tilde, atol=1e-14, rtol=0)
    assert y is h_new or torch.equal(y, h_new)
    gates = cell.gate_activations(x, h)
    torch.testing.assert_close(gates["z"], z) and torch.testing.assert_close(gates["h_tilde"], h_tilde)


def test_min_lstm_step_is_the_papers_equation():
    torch.manual_seed(1)
    cell = MinLSTMCell(3, 4, dtype=DT)
    x, h = torch.randn(5, 3, dtype=DT), torch.randn(5, 4, dtype=DT)
    k_f, k_i, p = F.linear(x, cell.weight_ih, cell.bias_ih).chunk(3, dim=1)
    f, i = torch.sigmoid(k_f), torch.sigmoid(k_i)
    h_tilde = torch.where(p >= 0, p + 0.5, torch.sigmoid(p))
    _, h_new = cell(x, h)
    torch.testing.assert_close(h_new, f / (f + i) * h + i / (f + i) * h_tilde, atol=1e-14, rtol=0)
    torch.testing.assert_close(cell.gate_activations(x, h)["f_norm"], f / (f + i), atol=1e-14, rtol=0)


@pytest.mark.parametrize("cls", [MinGRUCell, MinLSTMCell])
def test_log_coefficients_are_the_logs_of_the_coefficients(cls):
    torch.manual_seed(2)
    cell = cls(3, 4, dtype=DT)
    x = 5 * torch.randn(7, 2, 3, dtype=DT)
    a, b = cell.coefficients(x)
    log_a, log_b = cell.log_coefficients(x)
    torch.testing.assert_close(log_a, a.log(), atol=1e-11, rtol=0)
    torch.testing.assert_close(log_b, b.log(), atol=1e-11, rtol=0)
    assert torch.all((a > 0) & (a < 1)) and torch.all(b > 0)


@pytest.mark.parametrize("cls", [MinGRUCell, MinLSTMCell])
def test_identity_activation_allows_negative_b_and_says_so(cls):
    cell = cls(3, 4, activation="identity", dtype=DT)
    assert not cell.positive_b and cls(3, 4).positive_b
    _, b = cell.coefficients(10 * torch.randn(50, 3, dtype=DT))
    assert (b < 0).any()
    assert "activation='identity'" in repr(cell)


@pytest.mark.parametrize("cls", [MinGRUCell, MinLSTMCell])
def test_cell_contract_unbatched_gradcheck_and_errors(cls):
    torch.manual_seed(3)
    cell = cls(3, 4, dtype=DT)
    assert isinstance(cell, LinearCell) and cell.init_state(2).shape == (2, 4)
    x = torch.randn(3, dtype=DT)
    y, h = cell(x)
    torch.testing.assert_close(y, cell(x[None])[0][0])
    assert y.shape == (4,) and h.shape == (4,)
    params = tuple(cell.parameters())
    assert torch.autograd.gradcheck(lambda x, h: cell(x, h)[1], (torch.randn(2, 3, dtype=DT, requires_grad=True),
                                                                 torch.randn(2, 4, dtype=DT, requires_grad=True)))
    assert all(p.grad is None for p in params)
    with pytest.raises(ValueError, match=f"{cls.__name__}: unknown activation 'relu'; valid values are 'g', 'identity'"):
        cls(3, 4, activation="relu")
    with pytest.raises(TypeError, match=f"{cls.__name__}: expected bias to be a bool"):
        cls(3, 4, bias=1)
    assert cls(3, 4, bias=False).bias_ih is None
