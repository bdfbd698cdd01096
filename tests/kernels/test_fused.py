"""The fused engine (compiled time loops) against the reference engine, gradcheck, and its edges.

The grid is bptt's (tests/kernels/test_bptt.py): every cell incl. no-bias and layer norm x lengths
x reverse x initial state x checkpoint_every, float64 to 1e-10 (gradcheck: tests/kernels/test_bptt.py runs
it for both engines). B=4 there runs the in-register product; the wide cases (B=9) run MKL's GEMM
(packed in float32).
"""
from functools import partial

import pytest
import torch

import rnnkit
from rnnkit.kernels import bptt, reference
from rnnkit.kernels.bptt import driver
from rnnkit.kernels.fused import recurrent
from tests.kernels.engine_cases import (DT, I, LENGTH_CASES, LENGTHS, T, assert_same, grid, inputs,
                                        largest_error, make_cell, run_with_grads)


@pytest.mark.parametrize("name,ln,length_case,reverse,with_state", list(grid()))
def test_fused_equals_reference(name, ln, length_case, reverse, with_state):
    cell = make_cell(name, ln)
    x, state = inputs(cell, with_state)
    lengths = LENGTH_CASES[length_case]
    want = run_with_grads(reference.run, cell, x, state, lengths, reverse)
    for k in (None, 4, 1):  # whole sequence, segments of 4 (T=6 does not divide), of 1
        assert_same(run_with_grads(partial(recurrent.run, checkpoint_every=k), cell, x, state, lengths, reverse),
                    want, atol=1e-10)


WIDE_LENGTHS = torch.tensor([6, 2, 6, 5, 1, 3, 6, 4, 5])  # 9 rows: the live rows drop from 9 to 3 over time


@pytest.mark.parametrize("ln", [False, True], ids=["plain", "ln"])
@pytest.mark.parametrize("name", ["elman-tanh", "elman-relu", "lstm", "lstm-proj", "gru"])
def test_wide_batch_through_blas_equals_reference(name, ln):
    cell = make_cell(name, ln)
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(T, 9, I, generator=gen, dtype=DT, requires_grad=True)
    state = cell.init_state(9, dtype=DT)
    state = tuple(s.clone().normal_(generator=gen).requires_grad_() for s in state) if isinstance(state, tuple) \
        else state.clone().normal_(generator=gen).requires_grad_()
    for lengths in (None, WIDE_LENGTHS):
        want = run_with_grads(reference.run, cell, x, state, lengths, False)
        for k in (None, 4):
            assert_same(run_with_grads(partial(recurrent.run, checkpoint_every=k), cell, x, state, lengths, False),
                        want, atol=1e-10)


@pytest.mark.parametrize("batch", [3, 9], ids=["in-register", "packed-gemm"])
@pytest.mark.parametrize("name", ["lstm", "lstm-proj", "gru", "elman-tanh"])
def test_float32_as_accurate_as_bptt(name, batch):
    """float32 (the in-register product, MKL's packed GEMM) against the float64 reference: within a small
    factor of bptt's own float32 error (the loops take tanh as 2 sigmoid(2x) - 1 at every size, bptt only
    on large tensors, so they round differently)."""
    cell = make_cell(name, True)
    gen = torch.Generator().manual_seed(11)
    x = torch.randn(T, batch, I, generator=gen, dtype=DT, requires_grad=True)
    lengths = torch.tensor([6, 3, 5, 6, 1, 2, 6, 4, 5][:batch])
    want = run_with_grads(reference.run, cell, x, None, lengths, True)
    cell32, x32 = cell.float(), x.detach().float().requires_grad_()
    fused_error = largest_error(run_with_grads(recurrent.run, cell32, x32, None, lengths, True), want)
    bptt_error = largest_error(run_with_grads(bptt.run, cell32, x32, None, lengths, True), want)
    assert fused_error <= 4 * bptt_error + 1e-6, (fused_error, bptt_error)


def test_inference_runs_in_stretches_with_the_same_numbers():
    cell = make_cell("lstm", True)
    x, state = inputs(cell, True)
    with_grad = recurrent.run(cell, x, state, LENGTHS)
    assert driver.inference_segment(x, (x,)) is None  # x requires grad: one segment, intermediates kept
    with torch.no_grad():
        assert driver.inference_segment(x, (x,)) == driver.INFERENCE_ROWS // x.shape[1]
        stretches = recurrent.run(cell, x, state, LENGTHS)
    torch.testing.assert_close(stretches[0], with_grad[0], atol=1e-12, rtol=0)
    for a, b in zip(stretches[1], with_grad[1]):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_nan_stays_nan():
    """A NaN pre-activation must not turn into a saturated gate (the fast exp clamps its input)."""
    for name in ("lstm", "gru", "elman-tanh"):
        cell = make_cell(name, False).float()
        x = torch.randn(T, 2, I)
        x[2, 1, 0] = float("nan")
        out, _ = recurrent.run(cell, x, cell.init_state(2))
        assert not out[:2].isnan().any() and not out[:, 0].isnan().any(), name
        assert out[2:, 1].isnan().all(), name


def test_saturating_inputs_stay_finite_and_exact():
    cell = make_cell("lstm", False).float()
    x = torch.full((T, 2, I), 200.0)
    x[:, 1] = -200.0
    out, _ = recurrent.run(cell, x, cell.init_state(2))
    want, _ = bptt.run(cell, x, cell.init_state(2))
    assert out.isfinite().all()
    torch.testing.assert_close(out, want, atol=1e-6, rtol=0)


def test_strided_state_and_expanded_gradients():
    """A non-contiguous initial state and the expanded gradient of out.sum() are taken as they come."""
    cell = make_cell("gru", False)
    x, _ = inputs(cell, False)
    h0 = torch.randn(5, 4, dtype=DT).t().requires_grad_()  # (B=4, H=5), column-major
    out, h = recurrent.run(cell, x, h0)
    (out.sum() + h.sum()).backward()
    want_grad = h0.grad.clone()
    h0.grad = None
    out2, h2 = reference.run(cell, x, h0)
    (out2.sum() + h2.sum()).backward()
    torch.testing.assert_close(want_grad, h0.grad, atol=1e-10, rtol=0)


def test_fused_rejects_other_cells_devices_and_dtypes():
    cell = rnnkit.MinGRUCell(3, 4)
    assert "fused has compiled loops for ElmanCell, LSTMCell and GRUCell only, not MinGRUCell" \
        in recurrent.unsupported(cell, torch.float32)
    assert recurrent.unsupported(rnnkit.GRUCell(3, 4), torch.float16) == \
        "fused runs float32 and float64, not torch.float16"
    with pytest.raises(ValueError, match="engine 'fused' cannot run this request: fused runs float32"):
        recurrent.run(rnnkit.GRUCell(3, 4).half(), torch.randn(2, 1, 3).half(), torch.zeros(1, 4).half())


def test_layers_on_fused_equal_torch_nn():
    torch.manual_seed(0)
    ref = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    lstm = rnnkit.LSTM(3, 5, num_layers=2, bidirectional=True, engine="fused")
    lstm.load_state_dict(ref.state_dict())
    x = torch.randn(7, 2, 3)
    torch.testing.assert_close(lstm(x)[0], ref(x)[0], atol=1e-5, rtol=0)
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, [7, 4])
    torch.testing.assert_close(lstm(packed)[0].data, ref(packed)[0].data, atol=1e-5, rtol=0)


def test_repeated_calls_are_bitwise_equal():
    """The packed weights and scratch buffers are 64-byte aligned, so MKL rounds the same way every call."""
    cell = make_cell("lstm-proj", False).float()
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(T, 9, I, generator=gen, requires_grad=True)
    first = run_with_grads(recurrent.run, cell, x, None, WIDE_LENGTHS, False)
    for n in range(1, 6):
        _ = [torch.empty(17 * n + k) for k in range(5)]  # move the allocator's next blocks around
        again = run_with_grads(recurrent.run, cell, x, None, WIDE_LENGTHS, False)
        assert torch.equal(first[0], again[0])
        assert all(torch.equal(first[2][k], again[2][k]) for k in first[2])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
def test_lstm_forward_split_across_threads_equals_reference(dtype):
    """Wide enough steps (B x 4H x H >= 2^18 multiply-adds) split the LSTM forward by hidden units across
    threads; H = 68 leaves the second thread a partial vector."""
    torch.manual_seed(4)
    B, H = 17, 68
    cell = rnnkit.LSTMCell(I, H, dtype=torch.float64)
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(T, B, I, generator=gen, dtype=torch.float64, requires_grad=True)
    lengths = torch.randint(1, T + 1, (B,), generator=gen)
    lengths[3] = T
    want = run_with_grads(reference.run, cell, x, None, lengths, False)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        if dtype == torch.float64:
            got = run_with_grads(recurrent.run, cell, x, None, lengths, False)
            assert_same(got, want, atol=1e-10)
        else:
            cell32, x32 = cell.float(), x.detach().float().requires_grad_()
            fused_error = largest_error(run_with_grads(recurrent.run, cell32, x32, None, lengths, False), want)
            bptt_error = largest_error(run_with_grads(bptt.run, cell32, x32, None, lengths, False), want)
            assert fused_error <= 4 * bptt_error + 1e-6, (fused_error, bptt_error)
    finally:
        torch.set_num_threads(threads)


def test_transposed_weights_follow_every_change():
    """The forward loops' transposed W_hh is kept on the cell between calls; a change of the weight is seen."""
    torch.manual_seed(1)
    gru, ref = rnnkit.GRU(3, 6, engine="fused"), torch.nn.GRU(3, 6)
    x = torch.randn(5, 2, 3)
    optimizer = torch.optim.SGD(gru.parameters(), lr=0.5)
    for _ in range(3):  # training steps change W_hh in place between calls
        gru(x)[0].pow(2).sum().backward()
        optimizer.step()
        optimizer.zero_grad()
        ref.load_state_dict(gru.state_dict())
        with torch.no_grad():
            torch.testing.assert_close(gru(x)[0], ref(x)[0], atol=1e-6, rtol=0)


def test_weights_edited_through_data_are_seen_at_the_next_call():
    """Nothing derived from the weights outlives a call: `.data` edits bump no version, so a cache would go stale."""
    torch.manual_seed(1)
    for kind, ref_kind in ((rnnkit.GRU, torch.nn.GRU), (rnnkit.LSTM, torch.nn.LSTM)):
        layer, ref = kind(3, 6, engine="fused"), ref_kind(3, 6)
        x = torch.randn(5, 2, 3)
        with torch.no_grad():
            layer(x)
            layer.weight_hh_l0.data.mul_(0.5)
            ref.load_state_dict(layer.state_dict())
            torch.testing.assert_close(layer(x)[0], ref(x)[0], atol=1e-6, rtol=0)
