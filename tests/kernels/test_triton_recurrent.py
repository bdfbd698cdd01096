"""The triton engine (persistent Triton time loops) against the reference engine, on the CPU through Triton's
interpreter (TRITON_INTERPRET=1, set by tests/conftest.py), at small shapes.

Every cell (incl. no-bias, projection, ReLU) x plain/layer norm runs with lengths, reverse and a given initial
state, and again over full sequences in segments (checkpoint_every), float64 to 1e-10: outputs, final states
and every gradient. The wide cases take more than one program (B > 16) and more than one slice of the
recurrent product (H = 40: two of 32 forward, five of 32 through an LSTM's 4H backward). The interpreter runs
each kernel op by op in numpy, so the grid here is bptt's grid cut to its corners (the full grid takes minutes).
"""
import os
from functools import partial

import pytest
import torch

from tests.kernels.engine_cases import (CELLS, DT, I, LENGTHS, T, assert_same, inputs, largest_error, make_cell,
                                        run_with_grads)

assert os.environ.get("TRITON_INTERPRET") == "1", "tests/conftest.py sets TRITON_INTERPRET=1 before triton loads"
pytest.importorskip("triton")  # a dev dependency; the kernels themselves are optional at run time

import rnnkit  # noqa: E402
from rnnkit.cells import ElmanCell, GRUCell, LSTMCell  # noqa: E402
from rnnkit.kernels import bptt, dispatch, reference  # noqa: E402
from rnnkit.kernels.triton import recurrent  # noqa: E402


@pytest.mark.parametrize("ln", [False, True], ids=["plain", "ln"])
@pytest.mark.parametrize("name", list(CELLS))
def test_lengths_reverse_and_initial_state_equal_reference(name, ln):
    cell = make_cell(name, ln)
    x, state = inputs(cell, True)
    for reverse in (False, True):
        want = run_with_grads(reference.run, cell, x, state, LENGTHS, reverse)
        assert_same(run_with_grads(recurrent.run, cell, x, state, LENGTHS, reverse), want, atol=1e-10)


@pytest.mark.parametrize("ln", [False, True], ids=["plain", "ln"])
@pytest.mark.parametrize("name", list(CELLS))
def test_segments_equal_reference(name, ln):
    """checkpoint_every: states kept every k steps, each segment one launch, recomputed in backward;
    the short lengths end sequences inside earlier segments (their final states must survive later ones)."""
    cell = make_cell(name, ln)
    x, _ = inputs(cell, False)
    lengths = torch.tensor([3, 1, 4, 3])
    for k in (4, 1):
        for lens in (None, lengths):
            want = run_with_grads(reference.run, cell, x, None, lens, False)
            assert_same(run_with_grads(partial(recurrent.run, checkpoint_every=k), cell, x, None, lens, False),
                        want, atol=1e-10)


WIDE = {
    "elman": lambda: ElmanCell(I, 40, layer_norm=True, dtype=DT),
    "lstm": lambda: LSTMCell(I, 40, layer_norm=True, dtype=DT),
    "lstm-proj": lambda: LSTMCell(I, 40, proj_size=20, dtype=DT),
    "gru": lambda: GRUCell(I, 40, layer_norm=True, dtype=DT),
}


@pytest.mark.parametrize("name", list(WIDE))
def test_two_programs_and_sliced_products_equal_reference(name):
    torch.manual_seed(2)
    cell = WIDE[name]()
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(T, 19, I, generator=gen, dtype=DT, requires_grad=True)
    lengths = torch.randint(1, T + 1, (19,), generator=gen)
    want = run_with_grads(reference.run, cell, x, None, lengths, True)
    assert_same(run_with_grads(recurrent.run, cell, x, None, lengths, True), want, atol=1e-10)


@pytest.mark.parametrize("name", ["lstm", "lstm-proj", "gru", "elman-tanh"])
def test_float32_as_accurate_as_bptt(name):
    """float32 against the float64 reference: within a small factor of bptt's own float32 error."""
    cell = make_cell(name, True)
    x, _ = inputs(cell, False)
    want = run_with_grads(reference.run, cell, x, None, LENGTHS, True)
    cell32, x32 = cell.float(), x.detach().float().requires_grad_()
    error = largest_error(run_with_grads(recurrent.run, cell32, x32, None, LENGTHS, True), want)
    bptt_error = largest_error(run_with_grads(bptt.run, cell32, x32, None, LENGTHS, True), want)
    assert error <= 4 * bptt_error + 1e-6, (error, bptt_error)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bfloat16", "float16"])
@pytest.mark.parametrize("name", ["lstm-proj", "gru", "elman-tanh"])
def test_half_precisions_as_accurate_as_the_reference_engine_in_them(name, dtype):
    """bfloat16/float16 buffers, float32 arithmetic inside each step; against the float64 reference, within a
    small factor of the reference engine's own error run in that dtype (whose every op rounds to it)."""
    cell = make_cell(name, True)
    x, _ = inputs(cell, False)
    want = run_with_grads(reference.run, cell, x, None, LENGTHS, True)
    cell_h, x_h = cell.to(dtype), x.detach().to(dtype).requires_grad_()
    error = largest_error(run_with_grads(recurrent.run, cell_h, x_h, None, LENGTHS, True), want)
    reference_error = largest_error(run_with_grads(reference.run, cell_h, x_h, None, LENGTHS, True), want)
    assert error <= 4 * reference_error, (error, reference_error)


def test_layers_run_on_the_triton_engine_with_torch_nns_numbers():
    torch.manual_seed(0)
    ours = rnnkit.LSTM(3, 6, num_layers=2, bidirectional=True, engine="triton").double()
    theirs = torch.nn.LSTM(3, 6, num_layers=2, bidirectional=True).double()
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(5, 2, 3, dtype=DT)
    (y, (h, c)), (y_t, (h_t, c_t)) = ours(x), theirs(x)
    for a, b in ((y, y_t), (h, h_t), (c, c_t)):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


def test_refusals_name_what_it_runs():
    assert "ElmanCell, LSTMCell and GRUCell only" in recurrent.unsupported(rnnkit.cells.MinGRUCell(3, 4), DT)
    assert "not torch.int64" in recurrent.unsupported(ElmanCell(3, 4), torch.int64)
    assert "hidden size up to 1024, not 2048" in recurrent.unsupported(ElmanCell(3, 2048), torch.float32)
    os.environ["TRITON_INTERPRET"] = "0"
    try:
        assert "runs on CUDA devices" in recurrent.unsupported(ElmanCell(3, 4), torch.float32)
    finally:
        os.environ["TRITON_INTERPRET"] = "1"
    with pytest.raises(ValueError, match="engine 'triton' cannot run this request"):
        recurrent.run(ElmanCell(3, 4, dtype=DT), torch.zeros(2, 1, 3, dtype=torch.int64), torch.zeros(1, 4))


def test_auto_takes_triton_on_a_gpu_only_once_checked_there_and_before_cudnn_only_where_measured_faster(
        monkeypatch):
    gpu_cell = LSTMCell(3, 4, layer_norm=True)
    assert dispatch.TRITON_CHECKED == () and dispatch.TRITON_MEASURED_FASTER == ()  # no GPU run is recorded
    assert dispatch._gpu_order(gpu_cell, 8) == dispatch.AUTO_ORDER
    assert "triton" not in dispatch.AUTO_ORDER
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H200")
    monkeypatch.setattr(dispatch, "TRITON_CHECKED", (("NVIDIA H100", "2027-01-01"),))
    assert dispatch._gpu_order(gpu_cell, 8) == dispatch.AUTO_ORDER  # checked on another device only
    monkeypatch.setattr(dispatch, "TRITON_CHECKED", (("NVIDIA H200", "2027-01-01"),))
    assert dispatch._gpu_order(gpu_cell, 8) == ("native", "triton", "bptt", "reference")
    monkeypatch.setattr(dispatch, "TRITON_MEASURED_FASTER",
                        (("NVIDIA H200", "2027-01-01", LSTMCell, torch.float32, 64, 512),))
    assert dispatch._gpu_order(gpu_cell, 8) == ("triton", "native", "bptt", "reference")
    assert dispatch._gpu_order(gpu_cell, 65) == ("native", "triton", "bptt", "reference")  # past the measured rows
    assert dispatch._gpu_order(GRUCell(3, 4), 8) == ("native", "triton", "bptt", "reference")
    assert dispatch.ENGINES["triton"].records is False
    assert "persistent kernel launch per segment" in recurrent.describe(LSTMCell(3, 4), 10, 20, "cpu", {})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (benchmarks/speed_gpu.py checks it)")
@pytest.mark.parametrize("name", ["elman-tanh", "lstm", "lstm-proj", "gru"])
def test_on_the_gpu_equals_reference(name):
    cell = make_cell(name, True).cuda()
    x, state = inputs(cell, True)
    x = x.detach().cuda().requires_grad_()
    state = tuple(s.detach().cuda().requires_grad_() for s in state) if isinstance(state, tuple) \
        else state.detach().cuda().requires_grad_()
    want = run_with_grads(reference.run, cell, x, state, LENGTHS.cuda(), True)
    assert_same(run_with_grads(recurrent.run, cell, x, state, LENGTHS.cuda(), True), want, atol=1e-10)


@pytest.mark.parametrize("name", ["elman-tanh", "lstm-proj", "gru"])
def test_gradcheck(name):
    """gradcheck in float64 through the kernels (layer norm, lengths, reverse), input and initial state. Its fast
    mode (a random projection of the Jacobian, Chen et al.) keeps the runs through the interpreter few."""
    cell = make_cell(name, True)
    gen = torch.Generator().manual_seed(8)
    x = torch.randn(3, 2, I, generator=gen, dtype=DT, requires_grad=True)
    state = cell.init_state(2, dtype=DT)
    state = tuple(s.clone().normal_(generator=gen).requires_grad_() for s in state) if isinstance(state, tuple) \
        else (state.clone().normal_(generator=gen).requires_grad_(),)
    lengths = torch.tensor([2, 3])

    def f(x, *s):
        out, final = recurrent.run(cell, x, s if len(s) > 1 else s[0], lengths, True)
        return (out, *(final if isinstance(final, tuple) else (final,)))

    assert torch.autograd.gradcheck(f, (x, *state), fast_mode=True)
