import pytest
import torch

from rnnkit.data import narma10


def test_narma10_follows_its_recursion():
    u, y = narma10(300, discard=0, seed=2)
    assert u.shape == y.shape == (300,)
    assert float(u.min()) >= 0 and float(u.max()) <= 0.5
    # y[t] is produced by reading u[t]: y[t] = 0.3 y[t-1] + 0.05 y[t-1] sum_{i<10} y[t-1-i] + 1.5 u[t-9] u[t] + 0.1
    for t in range(11, 300):
        expected = 0.3 * y[t - 1] + 0.05 * y[t - 1] * y[t - 10:t].sum() + 1.5 * u[t - 9] * u[t] + 0.1
        assert float(y[t]) == pytest.approx(float(expected), rel=1e-12)
    ub, yb = narma10(50, batch=4)
    assert ub.shape == yb.shape == (50, 4)


def test_narma10_bad_arguments():
    with pytest.raises(ValueError, match="expected n >= 1, got 0"):
        narma10(0)
    with pytest.raises(TypeError, match="expected batch to be an int"):
        narma10(10, batch=1.5)


def test_the_seed_chooses_the_input_and_the_same_seed_repeats_it():
    u0, y0 = narma10(300, seed=0)
    u1, y1 = narma10(300, seed=1)
    assert not torch.equal(u0, u1) and not torch.equal(y0, y1)
    u0b, y0b = narma10(300, seed=0)
    assert torch.equal(u0, u0b) and torch.equal(y0, y0b)


def test_narma10_starts_from_rest_with_no_input_before_the_first():
    """From the first step: y and u are 0 before the series starts, so u_(t-9) is 0 until t = 9."""
    u, y = narma10(14, discard=0, seed=4)
    u, y = u.tolist(), y.tolist()
    ys = [0.0]  # ys[t] = y_(t-1): the value before u[t] was read; ys[0] the rest state
    for t in range(14):
        lag = u[t - 9] if t >= 9 else 0.0
        ys.append(0.3 * ys[t] + 0.05 * ys[t] * sum(ys[max(0, t - 9):t + 1]) + 1.5 * lag * u[t] + 0.1)
    assert y == pytest.approx(ys[1:], rel=1e-14)
    assert y[0] == pytest.approx(0.1) and y[9] != pytest.approx(0.3 * y[8] + 0.05 * y[8] * sum(y[:9]) + 0.1)


def test_one_series_is_the_first_and_only_column_of_a_batch_of_one():
    u, y = narma10(40, seed=3)
    ub, yb = narma10(40, batch=1, seed=3)
    assert torch.equal(u, ub[:, 0]) and torch.equal(y, yb[:, 0])
