"""Jacobian products: exact for known cells, and their rate for a linear recurrence."""
import pytest
import torch
from torch import nn

import rnnkit
from rnnkit.diagnostics.jacobian import jacobian_products, step_jacobians
from rnnkit.diagnostics.spectral import spectrum


class LinearCell(rnnkit.Cell):
    def __init__(self, W):
        super().__init__(1, W.shape[0])
        self.weight_hh = nn.Parameter(W)

    def step(self, x_t, h):
        h = h @ self.weight_hh.T + x_t
        return h, h


def test_elman_jacobian_is_diag_tanh_prime_times_w():
    torch.manual_seed(0)
    cell = rnnkit.ElmanCell(2, 4, dtype=torch.float64)
    x = torch.randn(3, 2, 2, dtype=torch.float64)
    J, states = step_jacobians(cell, x)
    for t in range(3):
        d = 1 - states[t + 1] ** 2  # (B, H) tanh'
        torch.testing.assert_close(J[t], d.unsqueeze(-1) * cell.weight_hh.detach(), rtol=0, atol=1e-12)


def test_lstm_state_is_h_and_c_together():
    cell = rnnkit.LSTMCell(2, 3, dtype=torch.float64)
    J, _ = step_jacobians(cell, torch.randn(2, 5, 2, dtype=torch.float64))
    assert J.shape == (2, 5, 6, 6)


@pytest.mark.parametrize("rho", [0.8, 1.2])
def test_products_of_a_linear_recurrence_decay_at_rho(rho):
    gen = torch.Generator().manual_seed(3)
    Q, _ = torch.linalg.qr(torch.randn(6, 6, generator=gen, dtype=torch.float64))
    cell = LinearCell(rho * Q)  # all |eigenvalues| = rho, ||W^k||_2 = rho^k exactly
    jp = jacobian_products(cell, torch.zeros(30, 2, 1, dtype=torch.float64))
    k = torch.arange(1, 31, dtype=torch.float64)
    torch.testing.assert_close(jp.geometric_mean(), rho ** k, rtol=1e-10, atol=0)
    assert jp.rate == pytest.approx(rho, rel=1e-10)
    assert spectrum(cell.weight_hh).radius == pytest.approx(rho)


def test_bad_lag_names_the_range():
    cell = rnnkit.ElmanCell(1, 2)
    with pytest.raises(ValueError, match=r"1 <= max_lag <= T = 4, got 9"):
        jacobian_products(cell, torch.zeros(4, 1, 1), max_lag=9)


@pytest.mark.parametrize("make", [
    pytest.param(lambda: rnnkit.LSTMCell(2, 3, proj_size=2, layer_norm=True, dtype=torch.float64), id="lstm-proj-ln"),
    pytest.param(lambda: rnnkit.GRUCell(2, 3, dtype=torch.float64), id="gru"),
    pytest.param(lambda: LinearCell(torch.randn(3, 3, dtype=torch.float64)), id="custom-cell"),
])
def test_batched_jacobians_equal_one_jacobian_per_step_and_sample(make):
    torch.manual_seed(0)
    cell = make()
    x = torch.randn(4, 2, cell.input_size, dtype=torch.float64)
    J, states = step_jacobians(cell, x)
    state = cell.init_state(2, dtype=torch.float64)
    for t in range(4):
        flat_state = torch.cat(state, -1) if isinstance(state, tuple) else state
        sizes = [s.shape[-1] for s in state] if isinstance(state, tuple) else None
        torch.testing.assert_close(torch.cat(states[t], -1) if sizes else states[t], flat_state, rtol=0, atol=1e-12)
        for b in range(2):
            def f(s, b=b):
                s = tuple(s.split(sizes)) if sizes else s
                s = tuple(p.unsqueeze(0) for p in s) if sizes else s.unsqueeze(0)
                new = cell.step(x[t, b:b + 1], s)[1]
                return (torch.cat(new, -1) if sizes else new).squeeze(0)
            want = torch.autograd.functional.jacobian(f, flat_state[b])
            torch.testing.assert_close(J[t, b], want, rtol=0, atol=1e-12)
        state = cell.step(x[t], state)[1]


def test_each_product_is_the_chain_of_step_jacobians_from_the_last_step_back():
    torch.manual_seed(1)
    cell = rnnkit.ElmanCell(2, 4, dtype=torch.float64)
    x = torch.randn(5, 3, 2, dtype=torch.float64) * 2  # every step's Jacobian its own
    J, _ = step_jacobians(cell, x)
    jp = jacobian_products(cell, x, max_lag=4)
    product = torch.eye(4, dtype=torch.float64).expand(3, 4, 4)
    for k in range(1, 5):
        product = product @ J[5 - k]  # dh_T/dh_(T-k) = J_T ... J_(T-k+1)
        torch.testing.assert_close(jp.norms[k - 1], torch.linalg.matrix_norm(product, ord=2), rtol=1e-12, atol=0)
