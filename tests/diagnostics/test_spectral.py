"""The power argument: ||(W^T)^t h_0|| grows like rho^t."""
import pytest
import torch

import rnnkit
from rnnkit.diagnostics.spectral import eigenvalues, growth_rate, layer_spectra, power_iteration, spectrum


@pytest.mark.parametrize("rho", [0.5, 0.9, 1.0, 1.1, 1.5], ids=lambda r: f"rho{r}")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_linear_recurrence_grows_at_the_spectral_radius(rho, seed):
    gen = torch.Generator().manual_seed(seed)
    W = torch.randn(12, 12, generator=gen, dtype=torch.float64)
    W = W * (rho / spectrum(W).radius)  # spectral radius exactly rho
    run = power_iteration(W, steps=400, seed=seed)
    assert run.radius == pytest.approx(rho, rel=1e-12)
    assert run.rate == pytest.approx(rho, rel=0.01)
    assert run.norms.shape == (401,) and run.predicted()[0] == run.norms[0]


def test_eigenvalues_sorted_and_norm_bounds_radius():
    W = torch.tensor([[0.0, -2.0], [0.5, 0.0]], dtype=torch.float64)  # eigenvalues +-i
    ev = eigenvalues(W)
    torch.testing.assert_close(ev.abs(), torch.ones(2, dtype=torch.float64))
    s = spectrum(W, "rot")
    assert s.radius == pytest.approx(1.0) and s.norm == pytest.approx(2.0)


def test_growth_rate_of_exact_geometric_sequence():
    t = torch.arange(50, dtype=torch.float64)
    assert growth_rate(3.0 * 0.8 ** t) == pytest.approx(0.8, rel=1e-12)


def test_layer_spectra_names_every_gate_block():
    lstm = rnnkit.LSTM(3, 4, 2, bidirectional=True)
    names = [s.name for s in layer_spectra(lstm)]
    assert names[:4] == ["l0.i", "l0.f", "l0.g", "l0.o"] and "l1_reverse.o" in names and len(names) == 16
    rnn = rnnkit.RNN(3, 5, spectral_radius=1.1)
    assert layer_spectra(rnn)[0].radius == pytest.approx(1.1, rel=1e-5)


def test_bad_matrix_names_the_shape():
    with pytest.raises(ValueError, match=r"expected a square matrix \(H, H\), got shape \(2, 3\)"):
        spectrum(torch.zeros(2, 3))
    with pytest.raises(TypeError, match="expected matrix to be a torch.Tensor"):
        eigenvalues([[1.0]])
