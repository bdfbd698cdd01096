from functools import partial

import pytest
import torch

from rnnkit import Recurrent
from rnnkit.kernels import run_reference
from rnnkit.reservoir import Reservoir, ReservoirConfig

f64 = torch.float64


def make(storage="dense", leak=1.0, activation="tanh", feedback=0, units=12, **kw):
    config = ReservoirConfig(units=units, spectral_radius=0.9, leak_rate=leak, bias_scaling=0.3,
                             feedback_scaling=0.5 if feedback else 0.0, storage=storage,
                             activation=activation, connectivity=0.5, seed=3)
    return Reservoir(2, config, feedback_size=feedback, dtype=f64, **kw)


@pytest.mark.parametrize("B", [1, 3], ids=["B1", "B3"])
@pytest.mark.parametrize("leak", [1.0, 0.3], ids=["no-leak", "leak0.3"])
@pytest.mark.parametrize("storage", ["dense", "sparse"])
@pytest.mark.parametrize("feedback", [0, 1], ids=["nofb", "fb1"])
def test_fast_run_equals_reference_engine(storage, leak, B, feedback):
    res = make(storage, leak, feedback=feedback)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(9, B, 2 + feedback, generator=gen, dtype=f64)
    h0 = torch.randn(B, 12, generator=gen, dtype=f64)
    states, final = res.run(x, h0)
    ref_states, ref_final = run_reference(res, x, h0)
    torch.testing.assert_close(states, ref_states, rtol=0, atol=1e-13)
    torch.testing.assert_close(final, ref_final, rtol=0, atol=1e-13)
    torch.testing.assert_close(final, states[-1], rtol=0, atol=0)


def test_step_is_the_leaky_update():
    res = make(leak=0.4)
    gen = torch.Generator().manual_seed(1)
    u, h = torch.randn(2, 2, generator=gen, dtype=f64), torch.randn(2, 12, generator=gen, dtype=f64)
    y, new = res.step(u, h)
    expected = 0.6 * h + 0.4 * torch.tanh(u @ res.weight_ih.T + res.bias + h @ res.weight_hh.T)
    torch.testing.assert_close(new, expected, rtol=0, atol=1e-15)
    assert y is new


@pytest.mark.parametrize("activation", ["identity", "relu"])
def test_other_activations_match_reference(activation):
    res = make(activation=activation)
    x = torch.randn(6, 2, 2, dtype=f64)
    torch.testing.assert_close(res.run(x)[0], run_reference(res, x, res.init_state(2, dtype=f64))[0])


def test_spectral_radius_is_scaled_and_storage_does_not_change_the_numbers():
    dense, sparse = make("dense"), make("sparse")
    assert dense.spectral_radius() == pytest.approx(0.9, abs=1e-12)
    assert sparse.spectral_radius() == pytest.approx(0.9, abs=1e-12)
    assert sparse.weight_hh.layout == torch.sparse_csr
    torch.testing.assert_close(sparse.dense_weight_hh(), dense.weight_hh.detach(), rtol=0, atol=0)
    assert sparse.dense_weight_hh().count_nonzero() < 12 * 12


def test_same_seed_same_weights_and_reset_parameters_redraws_them():
    a, b = make(), make()
    torch.testing.assert_close(a.weight_hh, b.weight_hh, rtol=0, atol=0)
    with torch.no_grad():
        a.weight_hh.zero_()
    a.reset_parameters()
    torch.testing.assert_close(a.weight_hh, b.weight_hh, rtol=0, atol=0)


def test_frozen_by_default_inside_recurrent():
    net = Recurrent(lambda n: make(), input_size=2)
    out, h_n = net(torch.randn(7, 3, 2, dtype=f64))
    assert out.shape == (7, 3, 12) and h_n.shape == (1, 3, 12)
    assert not any(p.requires_grad for p in net.parameters())
    assert {"weight_ih_l0", "weight_hh_l0", "bias_l0"} <= set(dict(net.named_parameters()))


def test_trainable_reservoir_gets_gradients_through_recurrent():
    net = Recurrent(partial(Reservoir, config=ReservoirConfig(units=4, connectivity=1.0, leak_rate=0.5,
                                                              bias_scaling=0.1), trainable=True, dtype=f64),
                    input_size=2)
    x = torch.randn(5, 2, 2, dtype=f64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, *p: net(x)[0], (x, *net.parameters()))
    net(x)[0].sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


def test_sparse_cannot_be_trainable():
    with pytest.raises(ValueError, match="trainable=True needs storage='dense'"):
        Reservoir(1, ReservoirConfig(units=4, storage="sparse"), trainable=True)


def test_run_rejects_bad_shapes():
    res = make()
    with pytest.raises(ValueError, match=r"expected x of shape \(T, B, 2\), got \(4, 3\)"):
        res.run(torch.zeros(4, 3, dtype=f64))
    with pytest.raises(ValueError, match=r"expected state of shape \(3, 12\), got \(3, 5\)"):
        res.run(torch.zeros(4, 3, 2, dtype=f64), torch.zeros(3, 5, dtype=f64))
    with pytest.raises(TypeError, match=r"expected x of dtype torch.float64 \(the dtype of the reservoir's weights\), "
                                        r"got torch.float32"):
        res.run(torch.zeros(4, 3, 2))


def test_zero_spectral_radius_draw_is_reported():
    with pytest.raises(ValueError, match="spectral radius 0"):
        Reservoir(1, ReservoirConfig(units=1, connectivity=1e-9))
