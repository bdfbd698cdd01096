import pytest
import torch

from rnnkit.reservoir import Reservoir, ReservoirConfig
from rnnkit.reservoir.diagnostics import echo_state_check, memory_capacity, spectral_radius

f64 = torch.float64


def test_echo_state_check_fails_for_radius_3_with_a_large_input_free_state():
    res = Reservoir(1, ReservoirConfig(units=100, spectral_radius=3.0, connectivity=1.0), dtype=f64)
    check = echo_state_check(res, steps=300, init_scale=10.0)
    assert not check.converged
    assert check.distances.shape == (300,)
    assert float(check.distances[-50:].min()) > 0.1  # still far apart at the end


def test_echo_state_check_passes_for_a_contracting_reservoir():
    res = Reservoir(1, ReservoirConfig(units=100, spectral_radius=0.5, connectivity=1.0), dtype=f64)
    check = echo_state_check(res, steps=300, init_scale=10.0)
    assert check.converged
    assert float(check.distances[0]) > 0.1 and float(check.distances[-1]) < 1e-6


def test_echo_state_check_with_a_driving_input():
    res = Reservoir(1, ReservoirConfig(units=30, spectral_radius=0.9), dtype=f64)
    u = torch.sin(torch.arange(400, dtype=f64) / 5).unsqueeze(1)  # (400, 1)
    assert echo_state_check(res, u).converged
    with pytest.raises(ValueError, match=r"expected inputs of shape \(T, 1\), got \(400, 2\)"):
        echo_state_check(res, u.repeat(1, 2))


def test_spectral_radius_of_a_reservoir_and_of_a_matrix():
    res = Reservoir(1, ReservoirConfig(units=20, spectral_radius=1.3, storage="sparse"), dtype=f64)
    assert spectral_radius(res) == pytest.approx(1.3, abs=1e-12)
    assert spectral_radius(torch.diag(torch.tensor([0.5, -2.0]))) == pytest.approx(2.0)
    with pytest.raises(ValueError, match=r"expected a square matrix, got shape \(2, 3\)"):
        spectral_radius(torch.zeros(2, 3))


def test_memory_capacity_of_a_linear_reservoir_is_close_to_its_size():
    # Jaeger 2001: a linear reservoir of N units has MC = N; finite data and the ridge lose a little,
    # and chance correlations on 1,000 test steps add about 30 * 1e-3.
    res = Reservoir(1, ReservoirConfig(units=10, spectral_radius=0.9, activation="identity", connectivity=1.0,
                                       input_scaling=0.1), dtype=f64)
    mc = memory_capacity(res, max_delay=30, train=3000, test=1000)
    assert mc.per_delay.shape == (30,)
    assert 9.0 < mc.total < 10.1
    assert float(mc.per_delay[0]) > 0.99  # one step back is remembered almost perfectly


def test_memory_capacity_of_a_tanh_reservoir_is_below_the_linear_one():
    config = dict(units=10, spectral_radius=0.9, connectivity=1.0, input_scaling=2.0)
    linear = Reservoir(1, ReservoirConfig(activation="identity", **config), dtype=f64)
    tanh = Reservoir(1, ReservoirConfig(activation="tanh", **config), dtype=f64)
    mc_linear = memory_capacity(linear, max_delay=30, train=3000, test=1000).total
    mc_tanh = memory_capacity(tanh, max_delay=30, train=3000, test=1000).total
    assert 1.0 < mc_tanh < mc_linear - 0.5


def test_memory_capacity_needs_one_input():
    res = Reservoir(2, ReservoirConfig(units=5, connectivity=1.0), dtype=f64)
    with pytest.raises(ValueError, match="expected a reservoir with one input and no feedback, got input_size=2"):
        memory_capacity(res)


def test_convergence_is_read_at_the_last_step():
    res = Reservoir(1, ReservoirConfig(units=50, spectral_radius=0.5, connectivity=1.0), dtype=f64)
    d = echo_state_check(res, steps=30, init_scale=10.0).distances
    assert float(d[-1]) < float(d[-2])
    between = float(d[-1] + d[-2]) / 2
    assert echo_state_check(res, steps=30, init_scale=10.0, tol=between).converged
    assert not echo_state_check(res, steps=30, init_scale=10.0, tol=float(d[-1]) * 0.99).converged


@pytest.mark.parametrize("measure, starts_from_a_state", [
    pytest.param(lambda res: memory_capacity(res, max_delay=3, train=200, test=100, washout=20), False, id="mc"),
    pytest.param(lambda res: echo_state_check(res, steps=20), True, id="esp")])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_measures_drive_the_reservoir_in_its_own_dtype(dtype, measure, starts_from_a_state, monkeypatch):
    res = Reservoir(1, ReservoirConfig(units=20, spectral_radius=0.9), dtype=dtype)
    seen, run = [], res.run
    monkeypatch.setattr(res, "run", lambda x, h0=None: (seen.append((x.dtype, getattr(h0, "dtype", None))),
                                                        run(x, h0))[1])
    measure(res)
    assert seen == [(dtype, dtype if starts_from_a_state else None)]
