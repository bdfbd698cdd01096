import pytest
import torch

from rnnkit.reservoir import RLS, Ridge
from tests.reservoir.exact import exact_ridge

f64 = torch.float64


def data(M=60, D=5, O=2, dtype=f64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(M, D, generator=gen, dtype=dtype), torch.randn(M, O, generator=gen, dtype=dtype)


def closed_form(Z, Y, alpha, bias_penalised):
    """[W c]^T = (Z~^T Z~ + alpha P)^-1 Z~^T Y with Z~ = [Z 1]."""
    Zt = torch.cat([Z, torch.ones(len(Z), 1, dtype=f64)], 1)
    P = torch.eye(Zt.shape[1], dtype=f64)
    if not bias_penalised:
        P[-1, -1] = 0.0
    sol = torch.linalg.solve(Zt.T @ Zt + alpha * P, Zt.T @ Y)
    return sol[:-1].T, sol[-1]


@pytest.mark.parametrize("alpha", [0.0, 1e-3, 2.5])
def test_ridge_equals_closed_form_solve(alpha):
    Z, Y = data()
    ridge = Ridge(alpha).fit(Z, Y)
    W, c = closed_form(Z, Y, alpha, bias_penalised=False)
    torch.testing.assert_close(ridge.weight, W, rtol=0, atol=1e-12)
    torch.testing.assert_close(ridge.bias, c, rtol=0, atol=1e-12)
    torch.testing.assert_close(ridge(Z), Z @ W.T + c, rtol=0, atol=1e-12)


def test_ridge_without_bias():
    Z, Y = data()
    ridge = Ridge(0.7, fit_bias=False).fit(Z, Y)
    torch.testing.assert_close(ridge.weight, torch.linalg.solve(Z.T @ Z + 0.7 * torch.eye(5, dtype=f64), Z.T @ Y).T,
                               rtol=0, atol=1e-12)
    assert torch.equal(ridge.bias, torch.zeros(2, dtype=f64))


def test_ridge_solves_in_float64_for_float32_features():
    Z, Y = data(dtype=torch.float32)
    ridge = Ridge(1e-2).fit(Z, Y)
    assert ridge.weight.dtype == f64
    W, c = closed_form(Z.double(), Y.double(), 1e-2, bias_penalised=False)
    torch.testing.assert_close(ridge.weight, W, rtol=0, atol=1e-12)
    assert ridge(Z).dtype == torch.float32


def test_ridge_accumulated_in_chunks_equals_one_fit():
    Z, Y = data(M=90)
    whole = Ridge(0.1).fit(Z, Y)
    chunked = Ridge(0.1)
    for k in range(3):
        chunked.accumulate(Z[30 * k:30 * (k + 1)], Y[30 * k:30 * (k + 1)])
    chunked.solve()
    torch.testing.assert_close(chunked.weight, whole.weight, rtol=0, atol=1e-12)
    torch.testing.assert_close(chunked.bias, whole.bias, rtol=0, atol=1e-12)


def test_a_tiny_ridge_over_features_with_a_large_mean_is_solved_to_rounding():
    # features 10 + 0.01 noise: [Z 1] is nearly rank-deficient, and summing its Gram unshifted put the weights
    # 1.4e-9 (relative) off the exact solution; the shifted sums 1.4e-15
    gen = torch.Generator().manual_seed(0)
    Z = 10 + 0.01 * torch.randn(4000, 40, generator=gen, dtype=f64)
    Y = (Z - 10) @ torch.randn(40, 2, generator=gen, dtype=f64) + 1e-3 * torch.randn(4000, 2, generator=gen, dtype=f64)
    ridge = Ridge(1e-10)
    for z, y in zip(Z.split(500), Y.split(500)):
        ridge.accumulate(z, y)
    ridge.solve()
    W, c = exact_ridge(Z, Y, 1e-10)
    assert float((ridge.weight - W).abs().max() / W.abs().max()) < 1e-12
    torch.testing.assert_close(ridge.bias, c, rtol=1e-12, atol=0)


def test_ridge_recovers_an_exact_linear_map():
    Z, _ = data(M=50, D=4)
    W = torch.tensor([[1.0, -2.0, 0.5, 3.0]], dtype=f64)
    ridge = Ridge(0.0).fit(Z, Z @ W.T + 0.25)
    torch.testing.assert_close(ridge.weight, W, rtol=0, atol=1e-12)
    torch.testing.assert_close(ridge.bias, torch.tensor([0.25], dtype=f64), rtol=0, atol=1e-12)


@pytest.mark.parametrize("fit_bias", [False, True], ids=["no-bias", "bias"])
def test_rls_equals_ridge_with_every_weight_penalised(fit_bias):
    Z, Y = data()
    rls = RLS(alpha=0.5, fit_bias=fit_bias).fit(Z, Y)
    if fit_bias:
        W, c = closed_form(Z, Y, 0.5, bias_penalised=True)
    else:
        W, c = Ridge(0.5, fit_bias=False).fit(Z, Y).weight, torch.zeros(2, dtype=f64)
    torch.testing.assert_close(rls.weight, W, rtol=0, atol=1e-10)
    torch.testing.assert_close(rls.bias, c, rtol=0, atol=1e-10)


def test_rls_update_returns_the_prior_error():
    rls = RLS(alpha=1.0)
    e = rls.update(torch.tensor([1.0, 2.0], dtype=f64), torch.tensor([3.0], dtype=f64))
    torch.testing.assert_close(e, torch.tensor([-3.0], dtype=f64))  # W starts at 0


def test_readout_errors():
    with pytest.raises(ValueError, match="expected alpha >= 0, got -1"):
        Ridge(-1.0)
    with pytest.raises(ValueError, match="expected alpha > 0"):
        RLS(0.0)
    with pytest.raises(ValueError, match="expected forgetting in"):
        RLS(1.0, forgetting=1.5)
    with pytest.raises(RuntimeError, match="not fitted yet"):
        Ridge()(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="got 10 feature rows and 9 target rows"):
        Ridge().fit(torch.zeros(10, 2), torch.zeros(9, 1))
    ridge = Ridge()
    ridge.accumulate(*data(D=5))
    with pytest.raises(ValueError, match="expected features with 5 columns and targets with 2"):
        ridge.accumulate(*data(D=4))
    with pytest.raises(ValueError, match="expected features with 5 columns, got 3"):
        Ridge().fit(*data())(torch.zeros(2, 3, dtype=f64))
