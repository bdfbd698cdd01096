"""The bptt engine against the reference engine, gradcheck (bptt and fused), and the memory-efficient mode."""
from functools import partial

import pytest
import torch

from rnnkit.kernels import bptt, reference
from rnnkit.kernels.fused import recurrent as fused_loops
from rnnkit.cells import ElmanCell, GRUCell, LSTMCell
from tests.gradcheck_utils import gradcheck_all
from tests.kernels.engine_cases import (DT, LENGTH_CASES, LENGTHS, assert_same, grid, inputs, make_cell,
                                        run_with_grads)


@pytest.mark.parametrize("name,ln,length_case,reverse,with_state", list(grid()))
def test_bptt_equals_reference(name, ln, length_case, reverse, with_state):
    cell = make_cell(name, ln)
    x, state = inputs(cell, with_state)
    lengths = LENGTH_CASES[length_case]
    want = run_with_grads(reference.run, cell, x, state, lengths, reverse)
    assert_same(run_with_grads(bptt.run, cell, x, state, lengths, reverse), want, atol=1e-10)
    # memory-efficient mode: segments of 4 and of 1 step (T=6 does not divide by 4)
    for k in (4, 1):
        assert_same(run_with_grads(partial(bptt.run, checkpoint_every=k), cell, x, state, lengths, reverse),
                    want, atol=1e-10)


@pytest.mark.parametrize("engine", [bptt.run, fused_loops.run], ids=["bptt", "fused"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("ln", [False, True], ids=["plain", "ln"])
@pytest.mark.parametrize("name", ["elman-tanh", "elman-relu", "lstm", "lstm-proj", "gru"])
def test_gradcheck(name, ln, reverse, engine):
    cell = make_cell(name, ln, seed=1)
    x, state = inputs(cell, True, seed=2)
    assert gradcheck_all(cell, lambda c, x, s: engine(c, x, s, LENGTHS, reverse, checkpoint_every=4), x, state)


def test_memory_efficient_mode_equals_plain_mode_bitwise_in_forward():
    cell = make_cell("lstm", False)
    x, state = inputs(cell, True)
    plain = bptt.run(cell, x, state, LENGTHS)
    efficient = bptt.run(cell, x, state, LENGTHS, checkpoint_every=2)
    assert torch.equal(plain[0], efficient[0])
    assert all(torch.equal(a, b) for a, b in zip(plain[1], efficient[1]))


@pytest.mark.parametrize("name", ["lstm", "gru", "elman-tanh"])
def test_float32_close_to_float64_reference(name):
    cell = make_cell(name, True)
    x, state = inputs(cell, True)
    want = run_with_grads(reference.run, cell, x, state, LENGTHS, False)
    cell32 = cell.float()
    x32 = x.detach().float().requires_grad_()
    s32 = tuple(s.detach().float().requires_grad_() for s in state) if isinstance(state, tuple) \
        else state.detach().float().requires_grad_()
    got = run_with_grads(bptt.run, cell32, x32, s32, LENGTHS, False)
    assert got[0].dtype == torch.float32
    # float32 round-off (eps 6e-8) accumulates over T steps, layer norms and O(10) gradients
    assert_same(tuple(_to64(part) for part in got), want, atol=1e-4)


def _to64(part):
    if isinstance(part, dict):
        return {k: v.double() for k, v in part.items()}
    if isinstance(part, list):
        return [v.double() for v in part]
    return part.double()


@pytest.mark.parametrize("cell_type", [LSTMCell, GRUCell, ElmanCell], ids=["lstm", "gru", "elman"])
def test_large_batch_takes_the_sigmoid_tanh_path(cell_type):
    """B*H >= 4096 elements per step: tanh is computed as 2σ(2x) - 1; still the reference's numbers."""
    torch.manual_seed(0)
    cell = cell_type(3, 128, dtype=DT)
    x = torch.randn(3, 32, 3, dtype=DT, requires_grad=True)  # 32 x 128 = 4096 elements per step
    want = run_with_grads(reference.run, cell, x, None, None, False)
    assert_same(run_with_grads(bptt.run, cell, x, None, None, False), want, atol=1e-10)


def test_padding_never_reaches_the_gradients():
    cell = make_cell("gru", True)
    x, state = inputs(cell, True)
    nan_padded = x.detach().clone()
    for b, L in enumerate(LENGTHS.tolist()):
        nan_padded[L:, b] = float("nan")
    for run in (reference.run, bptt.run):
        got = run_with_grads(run, cell, nan_padded.requires_grad_(), state, LENGTHS, False)
        want = run_with_grads(run, cell, x, state, LENGTHS, False)
        for name, g in got[2].items():
            if name != "input":
                torch.testing.assert_close(g, want[2][name], atol=1e-12, rtol=0)


def test_initial_state_changed_in_place_after_forward_is_caught():
    cell = make_cell("lstm", False)
    x, (h0, c0) = inputs(cell, True)
    h0, c0 = h0.detach().clone(), c0.detach().clone()
    out, (h, c) = bptt.run(cell, x, (h0, c0))
    h0.copy_(h.detach())  # a careless state carry before backward
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_input_without_grad_skips_its_gradient():
    cell = make_cell("gru", False)
    x = torch.randn(5, 2, 3, dtype=DT)
    out, h = bptt.run(cell, x, cell.init_state(2, dtype=DT))
    out.sum().backward()
    assert cell.weight_hh.grad is not None and x.grad is None


def test_bptt_rejects_other_cells_with_the_reason():
    from rnnkit.cells import ElmanCell

    class Doubled(ElmanCell):
        def step(self, x_t, h):
            y, h = super().step(x_t, h)
            return 2 * y, h

    cell = Doubled(3, 4)
    assert "not Doubled" in bptt.unsupported(cell, torch.float32)
    with pytest.raises(ValueError, match="engine 'bptt' cannot run this request: bptt has hand-written gradients "
                                         "for ElmanCell, LSTMCell and GRUCell only, not Doubled"):
        bptt.run(cell, torch.randn(2, 1, 3), cell.init_state(1))
    assert "float16" in bptt.unsupported(ElmanCell(3, 4), torch.float16)
