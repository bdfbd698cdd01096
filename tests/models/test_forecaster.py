"""Forecaster (direct and autoregressive), error measures and the naive baselines."""
import math

import numpy as np
import pytest
import torch

from rnnkit.models import Forecaster, errors, naive, seasonal_naive


def test_direct_forecast_is_the_last_step_read_out():
    torch.manual_seed(0)
    f = Forecaster(1, 6, horizon=3)
    x = torch.randn(10, 4, 1)
    with torch.no_grad():  # the same grad mode as forecast: torch's kernels differ in training by rounding
        out, _ = f(x)
    assert out.shape == (10, 4, 3) and torch.equal(f.forecast(x), out[-1])


def test_autoregressive_forecast_feeds_its_predictions_back():
    torch.manual_seed(0)
    f = Forecaster(1, 6, horizon=3, mode="autoregressive", cell="gru").double()
    x = torch.randn(10, 2, 1, dtype=torch.float64)
    got = f.forecast(x)  # (2, 3)
    seq = x
    for k in range(3):  # run the whole extended sequence again: the same numbers
        out, _ = f(seq)
        assert torch.allclose(got[:, k], out[-1, :, 0], atol=1e-12)
        seq = torch.cat([seq, out[-1:, :, :1]])
    with pytest.raises(ValueError, match="needs input_size 1, got 2"):
        Forecaster(2, 4, 2, mode="autoregressive")


def test_errors_and_baselines_on_a_known_series():
    series = np.arange(30, dtype=float) % 5  # period 5: 0 1 2 3 4 0 1 ...
    origins = np.array([10, 17])
    assert naive(series, origins, 3).tolist() == [[4, 4, 4], [1, 1, 1]]
    assert seasonal_naive(series, origins, 7, period=5).tolist() == [
        [0, 1, 2, 3, 4, 0, 1], [2, 3, 4, 0, 1, 2, 3]]  # exact for a periodic series
    e = errors(np.array([1.0, 3.0]), np.array([2.0, 2.0]))
    assert e["mae"] == 1.0 and e["rmse"] == 1.0 and np.isnan(e["nrmse"])
    e = errors(np.array([0.0, 0.0]), np.array([1.0, -1.0]))
    assert e["rmse"] == 1.0 and e["nrmse"] == 1.0


def test_forecast_errors_are_mae_rmse_and_rmse_over_the_spread_of_the_truth():
    truth = np.array([[1.0, 3.0], [5.0, 7.0]])  # std 2.2360...
    got = errors(truth + np.array([[1.0, -1.0], [3.0, -3.0]]), truth)
    rmse = (20 / 4) ** 0.5
    assert got == pytest.approx({"mae": 2.0, "rmse": rmse, "nrmse": rmse / np.std(truth)})
    assert math.isnan(errors(np.ones(3), np.full(3, 2.0))["nrmse"])  # a constant truth has no spread
