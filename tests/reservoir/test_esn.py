import math

import pytest
import torch

from rnnkit.reservoir import ESN, RLS, ReservoirConfig, Ridge

f64 = torch.float64


def sine(T, period=25.0, phase=0.0):
    t = torch.arange(T, dtype=f64)
    return torch.sin(2 * math.pi * t / period + phase).unsqueeze(1)  # (T, 1)


def small_esn(**kw):
    return ESN(ReservoirConfig(units=50, spectral_radius=0.9, input_scaling=0.5, bias_scaling=0.2, seed=1),
               Ridge(1e-9), **kw)


def test_generate_continues_a_sine_wave():
    s = sine(601)
    esn = small_esn().fit(s[:500], s[1:501], warmup=100)
    out = esn.generate(100)  # continues after the last training input s[499]
    assert out.shape == (100, 1)
    truth = s[500:600]
    assert float((out - truth).abs().max()) < 1e-3


def test_generate_from_a_warmup_context_and_in_batches():
    esn = small_esn().fit(sine(401)[:-1], sine(401)[1:], warmup=100)
    phases = torch.tensor([0.0, 1.0, 2.5])
    context = torch.stack([sine(300, phase=float(p)) for p in phases], dim=1)  # (300, 3, 1)
    future = torch.stack([sine(350, phase=float(p))[300:] for p in phases], dim=1)  # (50, 3, 1)
    out = esn.generate(50, warmup=context)
    assert out.shape == (50, 3, 1)
    assert float((out - future).abs().max()) < 1e-3
    # a batch is independent series: each alone gives the same numbers
    alone = esn.generate(50, warmup=context[:, 1])
    torch.testing.assert_close(alone, out[:, 1], rtol=0, atol=1e-12)


def test_predict_is_one_step_ahead_and_readout_matches_ridge_on_states():
    s = sine(301)
    esn = small_esn().fit(s[:-1], s[1:], warmup=50)
    pred = esn.predict(s[:-1])
    assert pred.shape == (300, 1)
    assert float((pred[50:] - s[51:]).abs().max()) < 1e-4
    states, _ = esn.reservoir.run(s[:-1].unsqueeze(1))  # (300, 1, 50)
    Z = torch.cat([states[50:, 0], s[50:-1]], dim=1)  # features [x_t; u_t]
    ridge = Ridge(1e-9).fit(Z, s[51:])
    torch.testing.assert_close(esn.readout.weight, ridge.weight, rtol=0, atol=1e-10)


def test_batched_fit_pools_every_series():
    X = torch.stack([sine(201, phase=p) for p in (0.0, 0.7)], dim=1)  # (201, 2, 1)
    esn = small_esn().fit(X[:-1], X[1:], warmup=20)
    states, _ = esn.reservoir.run(X[:-1])  # (200, 2, 50)
    Z = torch.cat([states[20:], X[20:-1]], dim=2).reshape(-1, 51)
    torch.testing.assert_close(esn.readout.weight, Ridge(1e-9).fit(Z, X[21:].reshape(-1, 1)).weight,
                               rtol=0, atol=1e-10)


def test_feedback_and_numpy_inputs_and_rls_readout():
    s = sine(441).numpy()
    config = ReservoirConfig(units=40, spectral_radius=0.8, input_scaling=0.5, feedback_scaling=0.3, seed=2)
    esn = ESN(config, RLS(alpha=1e-6), feedback=True).fit(s[:399], s[1:400], warmup=50)
    assert esn.reservoir.input_size == 2 and esn.reservoir.feedback_size == 1
    out = esn.generate(40, warmup=s[300:400])
    assert out.shape == (40, 1)
    assert float((out - torch.from_numpy(s[400:440])).abs().max()) < 1e-2  # out[0] stands for s[400]


def test_include_input_false_uses_states_only():
    s = sine(101)
    esn = small_esn(include_input=False).fit(s[:-1], s[1:], warmup=10)
    assert esn.readout.weight.shape == (1, 50)


def test_input_noise_changes_the_fit_but_is_seeded():
    s = sine(201)
    a = small_esn(input_noise=1e-3).fit(s[:-1], s[1:], warmup=10).readout.weight
    b = small_esn(input_noise=1e-3).fit(s[:-1], s[1:], warmup=10).readout.weight
    c = small_esn().fit(s[:-1], s[1:], warmup=10).readout.weight
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.allclose(a, c)


# -- bad input: one clear error each -------------------------------------------------
def test_warmup_longer_than_the_series():
    s = sine(50)
    with pytest.raises(ValueError, match=r"ESN.fit: expected warmup < T=49 \(the series length\), got warmup=60"):
        small_esn().fit(s[:-1], s[1:], warmup=60)
    with pytest.raises(ValueError, match=r"expected warmup < T=49"):
        small_esn().fit(s[:-1], s[1:], warmup=49)


@pytest.mark.parametrize("where", ["X", "Y"])
def test_nan_in_the_data(where):
    X, Y = sine(50)[:-1].clone(), sine(50)[1:].clone()
    (X if where == "X" else Y)[17, 0] = float("nan")
    with pytest.raises(ValueError, match=rf"ESN.fit: {where} contains NaN or inf \(first at time step 17, series 0\)"):
        small_esn().fit(X, Y)


def test_nan_in_predict_input():
    s = sine(60)
    esn = small_esn().fit(s[:-1], s[1:])
    x = torch.zeros(10, 3, 1, dtype=f64)
    x[4, 2, 0] = float("nan")
    with pytest.raises(ValueError, match=r"ESN.predict: X contains NaN or inf \(first at time step 4, series 2\)"):
        esn.predict(x)


def test_mismatched_x_and_y_lengths():
    with pytest.raises(ValueError, match=r"expected X and Y with the same number of time steps and series, "
                                         r"got X of shape \(40, 1\) and Y of shape \(39, 1\)"):
        small_esn().fit(sine(40), sine(39))


def test_fit_twice_with_different_widths():
    esn = small_esn().fit(sine(40), sine(40))
    with pytest.raises(ValueError, match=r"this ESN was fitted on X with 1 features and Y with 1; "
                                         r"got X with 2 and Y with 1"):
        esn.fit(sine(40).repeat(1, 2), sine(40))
    esn.fit(sine(30), sine(30))  # same widths: refitting is fine


def test_use_before_fit_and_other_misuse():
    with pytest.raises(RuntimeError, match="ESN.predict: the ESN is not fitted yet"):
        small_esn().predict(sine(10))
    with pytest.raises(ValueError, match=r"expected X with 2 dims \(T, F\) or 3 dims \(T, B, F\), got shape \(10,\)"):
        small_esn().fit(torch.zeros(10), torch.zeros(10))
    with pytest.raises(TypeError, match="expected X to be a torch.Tensor or numpy array, got list"):
        small_esn().fit([1.0, 2.0], sine(2))
    esn = small_esn().fit(sine(40), sine(40).repeat(1, 2))
    with pytest.raises(ValueError, match="needs input_size == output_size; got 1 and 2"):
        esn.generate(5)
    with pytest.raises(ValueError, match="expected X with 1 features \\(as in fit\\), got 3"):
        esn.predict(torch.zeros(5, 3, dtype=f64))


def test_fit_online_without_feedback_equals_offline_rls():
    X = torch.stack([sine(121, phase=p) for p in (0.0, 0.4)], dim=1)  # (121, 2, 1)
    config = ReservoirConfig(units=20, spectral_radius=0.9, input_scaling=0.5, seed=5)
    online = ESN(config, RLS(alpha=1e-3)).fit_online(X[:-1], X[1:], warmup=20)
    offline = ESN(config, RLS(alpha=1e-3)).fit(X[:-1], X[1:], warmup=20)
    torch.testing.assert_close(online.readout.weight, offline.readout.weight, rtol=0, atol=1e-10)
    torch.testing.assert_close(online.state, offline.state, rtol=0, atol=1e-13)


def test_force_learning_with_feedback_generates_the_sine():
    s = sine(701)
    config = ReservoirConfig(units=60, spectral_radius=0.9, input_scaling=0.5, feedback_scaling=0.5, seed=2)
    esn = ESN(config, RLS(alpha=1e-4), feedback=True).fit_online(s[:600], s[1:601], warmup=50)
    out = esn.generate(100)  # continues after s[599]: out[k] stands for s[600 + k]
    assert float((out - s[600:700]).abs().max()) < 1e-2


def test_fit_online_needs_rls():
    with pytest.raises(TypeError, match="ESN.fit_online: needs an RLS readout, got Ridge"):
        small_esn().fit_online(sine(20), sine(20))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("storage", ["dense", "sparse"])
def test_cuda_matches_cpu(storage):
    s = sine(301)
    config = ReservoirConfig(units=50, spectral_radius=0.9, input_scaling=0.5, storage=storage, seed=1)
    cpu = ESN(config, Ridge(1e-9)).fit(s[:-1], s[1:], warmup=50)
    gpu = ESN(config, Ridge(1e-9), device="cuda").fit(s[:-1].cuda(), s[1:].cuda(), warmup=50)
    torch.testing.assert_close(gpu.readout.weight.cpu(), cpu.readout.weight, rtol=0, atol=1e-8)
    torch.testing.assert_close(gpu.generate(50).cpu(), cpu.generate(50), rtol=0, atol=1e-8)
