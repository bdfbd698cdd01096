import numpy as np
import pytest
import torch

from rnnkit.data import lorenz, mackey_glass


def mackey_glass_scalar(n, tau=17.0, dt=0.1, x0=1.2, start=None):
    """A plain scalar re-implementation: Euler step dt, one sample per time unit."""
    delay, stride = int(round(tau / dt)), int(round(1 / dt))
    history = [start] * (delay + 1)
    out = []
    for i in range(n * stride):
        lagged = history[-(delay + 1)]
        x = history[-1] + dt * (0.2 * lagged / (1 + lagged ** 10) - 0.1 * history[-1])
        history.append(x)
        if (i + 1) % stride == 0:
            out.append(x)
    return torch.tensor(out, dtype=torch.float64)


def test_mackey_glass_matches_a_scalar_euler_integration():
    x = mackey_glass(300, discard=0, seed=4)
    x0 = 1.2 + np.random.default_rng(4).uniform(-0.1, 0.1, size=1)[0]  # the seeded constant history
    torch.testing.assert_close(x, mackey_glass_scalar(300, start=x0), rtol=0, atol=1e-12)


def test_mackey_glass_shapes_range_and_determinism():
    x = mackey_glass(2000)
    assert x.shape == (2000,) and x.dtype == torch.float64
    assert 0.2 < float(x.min()) and float(x.max()) < 1.5
    torch.testing.assert_close(x, mackey_glass(2000), rtol=0, atol=0)
    batch = mackey_glass(100, batch=3)
    assert batch.shape == (100, 3)
    assert not torch.allclose(batch[:, 0], batch[:, 1])


def test_mackey_glass_tau_changes_the_series():
    assert not torch.allclose(mackey_glass(200, tau=17), mackey_glass(200, tau=30))


def test_mackey_glass_bad_arguments():
    with pytest.raises(ValueError, match="expected tau > 0, got 0"):
        mackey_glass(10, tau=0)
    with pytest.raises(ValueError, match="expected n >= 1, got 0"):
        mackey_glass(0)
    with pytest.raises(ValueError, match="expected sample_every to be a multiple of dt=0.1, got 0.25"):
        mackey_glass(10, sample_every=0.25)


def test_lorenz_shapes_and_attractor():
    s = lorenz(500)
    assert s.shape == (500, 3)
    assert float(s[:, 2].min()) > 0 and float(s[:, 2].max()) < 60  # z stays on the butterfly
    assert lorenz(20, batch=2).shape == (20, 2, 3)
    # RK4 step: one more step from the last sample equals the next sample
    a, b = lorenz(11, discard=0), lorenz(12, discard=0)
    torch.testing.assert_close(a, b[:11], rtol=0, atol=0)


def test_lorenz_follows_the_lorenz_equations():
    got = lorenz(50, dt=0.01, discard=0, seed=3).numpy()  # (50, 3): the states after 1..50 steps
    s = 1.0 + np.random.default_rng(3).uniform(-1.0, 1.0, size=3)  # the documented start
    fine, reference = 0.01 / 1000, []
    for _ in range(50):  # explicit Euler at a thousandth of the step: an independent integration
        for _ in range(1000):
            x, y, z = s
            s = s + fine * np.array([10.0 * (y - x), x * (28.0 - z) - y, x * y - 8.0 / 3.0 * z])
        reference.append(s)
    np.testing.assert_allclose(got, np.array(reference), rtol=1e-3, atol=1e-3)
