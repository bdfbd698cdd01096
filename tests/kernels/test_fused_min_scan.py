"""The compiled loop for minGRU/minLSTM (kernels/fused/min_scan.cpp): threads, widths, extreme gates, build failures."""
from functools import partial

import pytest
import torch

from rnnkit.cells import MinGRUCell, MinLSTMCell
from rnnkit.kernels import dispatch, fused, reference, scan
from rnnkit.kernels.fused import build
from tests.kernels.engine_cases import assert_same, run_with_grads

FUSED = partial(scan.run, scan_mode="fused")


@pytest.fixture
def three_threads():
    """The tests run one thread per worker; the kernel splits lanes across threads, so use three here."""
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("cls", [MinGRUCell, MinLSTMCell])
@pytest.mark.parametrize("batch", [1, 2, 5], ids=lambda b: f"B{b}")
def test_lanes_split_across_threads_any_width(cls, batch, three_threads):
    """B < threads cuts each row into pieces of whole vectors; H = 37 leaves a partial vector in
    float32 (8 wide with AVX2) and float64 (4 wide); B = 5 splits whole rows over 3 threads."""
    for dtype, tol in ((torch.float64, 1e-10), (torch.float32, 2e-5)):
        torch.manual_seed(batch)
        cell = cls(3, 37, dtype=torch.float64)
        with torch.no_grad():
            cell.weight_ih.mul_(3)
        cell = cell.to(dtype)
        x = torch.randn(11, batch, 3, dtype=dtype, requires_grad=True)
        state = torch.randn(batch, 37, dtype=dtype, requires_grad=True)
        lengths = torch.arange(11, 11 - batch, -1)
        want = run_with_grads(reference.run, cell, x, state, lengths, True)
        assert_same(run_with_grads(FUSED, cell, x, state, lengths, True), want, atol=tol)


@pytest.mark.parametrize("cls", [MinGRUCell, MinLSTMCell])
def test_extreme_gate_pre_activations(cls):
    """Pre-activations of +-100 and beyond, where both of minLSTM's sigmoids saturate but their ratio
    still depends on k_i - k_f (e.g. k_f = -90, k_i = -75 gives i' = sigmoid(15))."""
    torch.manual_seed(0)
    cell = cls(2, 6, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_ih.copy_(60 * torch.randn_like(cell.weight_ih))
        cell.bias_ih.copy_(40 * torch.randn_like(cell.bias_ih))
    x = torch.randn(9, 3, 2, dtype=torch.float64, requires_grad=True)
    state = torch.randn(3, 6, dtype=torch.float64, requires_grad=True)
    assert cell.preactivations(x).abs().max() > 100
    want = run_with_grads(reference.run, cell, x, state, None, False)
    assert_same(run_with_grads(FUSED, cell, x, state, None, False), want, atol=1e-9)
    if cls is MinLSTMCell:
        pre = torch.tensor([[[-90.0, -75.0, 1.0]]], dtype=torch.float64)  # (1, 1, 3H) with H = 1: k_f, k_i, p
        small = MinLSTMCell(1, 1, dtype=torch.float64)
        a, _ = small.coefficients_of(pre)
        torch.testing.assert_close(a, torch.sigmoid(torch.tensor(-15.0, dtype=torch.float64)).view(1, 1, 1),
                                   rtol=1e-9, atol=0)


@pytest.fixture
def no_build(monkeypatch):
    """The build module as if nothing were built or loaded yet in this process."""
    monkeypatch.setattr(build, "_modules", {})
    monkeypatch.setattr(build, "_failures", {})
    return monkeypatch


def test_without_a_compiler_auto_falls_back_and_explain_says_why(no_build, tmp_path):
    import rnnkit
    no_build.setenv("CXX", str(tmp_path / "no-such-compiler"))
    problem = fused.missing("min_scan")
    assert problem.startswith("no C++ compiler") and "install g++ (or set CXX)" in problem
    layer = rnnkit.MinGRU(3, 4)
    x = torch.randn(30, 2, 3)
    assert scan.choose_mode(layer.cells[0], 30, 8, x.device) == "chunked"
    out, _ = layer(x)  # auto runs, on another form
    assert out.shape == (30, 2, 4)
    assert "compiled loop: no C++ compiler" in str(rnnkit.explain(layer, x))
    with pytest.raises(ValueError, match=r"engine 'scan': no C\+\+ compiler .* install g\+\+"):
        rnnkit.MinGRU(3, 4, scan_mode="fused")(x)
    assert dispatch.choose(layer.cells[0], torch.float32, {}) == "scan"


def test_a_failed_build_prints_the_compiler_output_and_falls_back(no_build, tmp_path, capsys):
    no_build.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path / "cache"))
    no_build.setenv("CXX", "false")  # a "compiler" that fails on every file
    no_build.setattr(build, "_compiler_problem", lambda: None)
    problem = fused.missing("min_scan")
    assert problem.startswith("the fused CPU kernels failed to build")
    assert "rnnkit: building min_scan.cpp failed:" in capsys.readouterr().err
    assert fused.missing("min_scan") == problem  # remembered: no second build attempt in this process
    cell = MinLSTMCell(3, 4)
    assert scan.choose_mode(cell, 100, 8, torch.device("cpu")) == "chunked"
