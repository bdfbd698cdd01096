"""The scan engine and its forms against the reference engine; gradients by gradcheck in float64."""
import itertools
from functools import partial

import pytest
import torch

from rnnkit.cells import MinGRUCell, MinLSTMCell
from rnnkit.cells.linear import LinearCell
from rnnkit.kernels import dispatch, reference, scan, scan_forms
from rnnkit.kernels.fused import min_scan
from rnnkit.kernels.record import Recorder
from tests.gradcheck_utils import gradcheck_all
from tests.kernels.engine_cases import DT, LENGTH_CASES, LENGTHS, T, assert_same, inputs, run_with_grads

MIN_CELLS = {
    "mingru": lambda: MinGRUCell(3, 5, dtype=DT),
    "mingru-identity": lambda: MinGRUCell(3, 5, activation="identity", dtype=DT),
    "mingru-nobias": lambda: MinGRUCell(3, 5, bias=False, dtype=DT),
    "minlstm": lambda: MinLSTMCell(3, 5, dtype=DT),
    "minlstm-identity": lambda: MinLSTMCell(3, 5, activation="identity", dtype=DT),
}
CPU_MODES = ("step", "chunked", "log", "fused")


def make(name, seed=0):
    torch.manual_seed(seed)
    cell = MIN_CELLS[name]()
    with torch.no_grad():  # larger weights than the default: gates away from 1/2, candidates of both signs
        for p in cell.parameters():
            p.mul_(3.0)
    return cell


def _cases():
    for name, mode, lengths, reverse, with_state in itertools.product(
            MIN_CELLS, CPU_MODES, LENGTH_CASES, (False, True), (False, True)):
        if mode == "log" and "identity" in name:
            continue  # b may be negative: the log form refuses (tested below)
        yield pytest.param(name, mode, lengths, reverse, with_state,
                           id=f"{name}-{mode}-{lengths}-{'reverse' if reverse else 'forward'}-"
                              f"{'h0' if with_state else 'zero-h0'}")


@pytest.mark.parametrize("name,mode,length_case,reverse,with_state", list(_cases()))
def test_scan_equals_reference(name, mode, length_case, reverse, with_state):
    cell = make(name)
    x, state = inputs(cell, with_state)
    lengths = LENGTH_CASES[length_case]
    want = run_with_grads(reference.run, cell, x, state, lengths, reverse)
    got = run_with_grads(partial(scan.run, scan_mode=mode), cell, x, state, lengths, reverse)
    assert_same(got, want, atol=1e-10)


@pytest.mark.parametrize("name,mode", [(n, m) for n in ("mingru", "minlstm-identity") for m in CPU_MODES
                                       if not (m == "log" and "identity" in n)])
def test_gradcheck_scan(name, mode):
    cell = make(name, seed=1)
    x, state = inputs(cell, True, seed=2)
    assert gradcheck_all(cell, lambda c, x, s: scan.run(c, x, s, LENGTHS, True, scan_mode=mode), x, state)


@pytest.mark.parametrize("mode", CPU_MODES)
def test_double_backward_every_mode(mode):
    """Gradients of gradients (gradient penalties, Hessian-vector products) through every form."""
    cell = make("minlstm", seed=4)
    x, state = inputs(cell, True, seed=5)

    def first(x, h0, w):
        out, final = scan.run(cell, x, h0, LENGTHS, False, scan_mode=mode)
        return out, final

    w = cell.weight_ih
    torch.autograd.gradgradcheck(lambda x, h0: first(x, h0, w), (x, state), atol=1e-6)
    # and through a weight: d/dW of |dL/dx|^2 equals the reference engine's
    def penalty(run):
        out, final = run(cell, x, state, LENGTHS, False)
        (gx,) = torch.autograd.grad((out ** 2).sum() + final.sum(), x, create_graph=True)
        return torch.autograd.grad((gx ** 2).sum(), cell.weight_ih)[0]
    torch.testing.assert_close(penalty(partial(scan.run, scan_mode=mode)), penalty(reference.run), atol=1e-9, rtol=0)


@pytest.mark.parametrize("form", ["sequential", "chunked", "log"])
@pytest.mark.parametrize("reverse", [False, True])
def test_forms_equal_sequential_loop(form, reverse):
    gen = torch.Generator().manual_seed(0)
    for steps in (1, 2, 7, 50, 97):
        a = torch.rand(steps, 3, 4, generator=gen, dtype=DT)
        b = torch.rand(steps, 3, 4, generator=gen, dtype=DT) + 0.1
        h0 = torch.randn(3, 4, generator=gen, dtype=DT)
        want, h = [], h0
        for t in (reversed(range(steps)) if reverse else range(steps)):
            h = a[t] * h + b[t]
            want.append(h)
        want = torch.stack(want[::-1] if reverse else want)
        args = (a.log(), b.log()) if form == "log" else (a, b)
        got = scan_forms.linear_scan(*args, h0, reverse=reverse, form=form)
        torch.testing.assert_close(got, want, atol=1e-12, rtol=1e-12)


def test_chunked_form_any_chunk_size():
    gen = torch.Generator().manual_seed(1)
    a, b = torch.rand(23, 6, generator=gen, dtype=DT), torch.randn(23, 6, generator=gen, dtype=DT)
    h0 = torch.randn(6, generator=gen, dtype=DT)
    want = scan_forms.sequential(a, b, h0)
    for chunk in (1, 2, 5, 23, 40):
        torch.testing.assert_close(scan_forms.chunked(a, b, h0, chunk=chunk), want, atol=1e-13, rtol=0)
        torch.testing.assert_close(scan_forms.log_space(a.log(), b.abs().log(), h0, chunk=chunk),
                                   scan_forms.sequential(a, b.abs(), h0), atol=1e-12, rtol=0)


@pytest.mark.parametrize("scale", [1.0, 10.0], ids=["default-weights", "sharp-gates"])
@pytest.mark.parametrize("name", ["mingru", "minlstm"])
def test_float32_at_4096_steps_within_stated_tolerance(name, scale):
    """Every form in float32 at T = 4,096 against the float64 reference, relative to the largest
    entry: outputs to 1e-5 and gradients to 1e-4 (the log form: 5e-4 and 5e-3). The sequential,
    chunked and compiled forms land near 2e-7 on outputs; the log form's rounding grows with how sharply the gates forget
    (measured 1e-5 at default weights, 1.6e-4 with weights and biases x10) and with its chunk length, not
    with T, since each chunk of 256 steps starts afresh."""
    torch.manual_seed(0)
    cell64 = MIN_CELLS[name]()
    with torch.no_grad():
        for p in cell64.parameters():
            p.mul_(scale)
    x = torch.randn(4096, 2, 3, dtype=DT)
    lengths = torch.tensor([4096, 3001])
    want = run_with_grads(partial(scan.run, scan_mode="step"), cell64, x.clone().requires_grad_(), None, lengths,
                          False)
    cell32 = MIN_CELLS[name]().float()
    cell32.load_state_dict(cell64.state_dict())
    for mode in CPU_MODES:
        x32 = x.float().requires_grad_()
        out, finals, grads = run_with_grads(partial(scan.run, scan_mode=mode), cell32, x32, None, lengths, False)
        tol = 5e-4 if mode == "log" else 1e-5  # relative to the largest entry
        scale = want[0].abs().max()
        torch.testing.assert_close(out.double() / scale, want[0] / scale, atol=tol, rtol=0,
                                   msg=lambda m: f"{mode}: {m}")
        for gname, g in grads.items():
            scale = want[2][gname].abs().max()
            torch.testing.assert_close(g.double() / scale, want[2][gname] / scale, atol=10 * tol, rtol=0,
                                       msg=lambda m, gname=gname: f"{mode} gradient of {gname}: {m}")


def test_step_mode_one_token_at_a_time_equals_parallel_mode():
    cell = make("mingru")
    x, state = inputs(cell, True)
    whole, final = scan.run(cell, x, state, scan_mode="chunked")
    h, outs = state, []
    for t in range(T):
        y, h = scan.run(cell, x[t:t + 1], h)
        outs.append(y)
    torch.testing.assert_close(torch.cat(outs), whole, atol=1e-12, rtol=0)
    torch.testing.assert_close(h, final, atol=1e-12, rtol=0)


def test_log_mode_refuses_a_cell_whose_b_may_be_negative():
    cell = make("mingru-identity")
    x, state = inputs(cell, True)
    with pytest.raises(ValueError, match="scan_mode='log' needs b_t > 0.*'chunked' or 'step'"):
        scan.run(cell, x, state, scan_mode="log")


def test_unknown_mode_lists_the_valid_ones():
    cell = make("mingru")
    x, state = inputs(cell, True)
    with pytest.raises(ValueError, match="unknown scan_mode 'chunk'; valid values are 'step', 'chunked'"):
        scan.run(cell, x, state, scan_mode="chunk")
    with pytest.raises(ValueError, match="unknown form 'fast'"):
        scan_forms.linear_scan(x[:, :, :1], x[:, :, :1], state[:, :1], form="fast")


def test_triton_mode_on_cpu_names_the_device():
    cell = make("mingru")
    x, state = inputs(cell, True)
    with pytest.raises(ValueError, match="Triton scan runs on CUDA devices, not cpu"):
        scan.run(cell, x, state, scan_mode="triton")


class Decay(LinearCell):
    """A user's own linear cell: h_t = sigmoid(u x_t) h_{t-1} + tanh(v x_t), written as coefficients only."""

    def __init__(self):
        super().__init__(3, 5)
        self.u = torch.nn.Parameter(torch.randn(5, 3, dtype=DT))
        self.v = torch.nn.Parameter(torch.randn(5, 3, dtype=DT))

    def coefficients(self, x):
        return torch.sigmoid(x @ self.u.t()), torch.tanh(x @ self.v.t())


def test_a_users_linear_cell_gets_the_scan_and_not_the_compiled_loop():
    cell = Decay()
    assert dispatch.choose(cell, DT, {}) == "scan"
    cpu = torch.device("cpu")
    assert scan.choose_mode(cell, 100, 256, cpu) == "chunked" and scan.choose_mode(cell, 100, 4096, cpu) == "step"
    assert scan.choose_mode(cell, 16, 256, cpu) == "step"
    assert "MinGRUCell and MinLSTMCell only" in scan.fused_problem(cell, torch.device("cpu"))
    x, state = inputs(cell, True)
    want = run_with_grads(reference.run, cell, x, state, LENGTHS, True)
    for mode in ("step", "chunked"):
        assert_same(run_with_grads(partial(scan.run, scan_mode=mode), cell, x, state, LENGTHS, True), want, 1e-10)


def test_a_cell_that_overrides_step_is_not_served():
    class Odd(Decay):
        def step(self, x_t, h):
            h = torch.tanh(h) + x_t.sum(1, keepdim=True)
            return h, h
    assert "linear in h" in scan.unsupported(Odd(), DT)
    assert dispatch.choose(Odd(), DT, {}) == "reference"


@pytest.mark.parametrize("name", ["mingru", "minlstm"])
def test_records_states_and_gradients_like_the_reference(name):
    cell = make(name)
    x, state = inputs(cell, True)
    got, want = Recorder(), Recorder()
    for run, rec in ((partial(scan.run, scan_mode="chunked"), got), (reference.run, want)):
        out, final = run(cell, x, state, LENGTHS, True, record=rec)
        rec.backward((out ** 2).sum() + final.sum())
    for g, w in zip(got[0].state_parts + got[0].grad_parts, want[0].state_parts + want[0].grad_parts):
        torch.testing.assert_close(g, w, atol=1e-12, rtol=0)
    # auto never picks the compiled loop when recording: its backward gives no state gradients
    assert scan.choose_mode(cell, T, 20, x.device, recording=True) != "fused"
    with pytest.raises(ValueError, match="cannot record"):
        scan.run(cell, x, state, scan_mode="fused", record=Recorder())


@pytest.mark.parametrize("name", ["mingru", "minlstm", "minlstm-identity"])
def test_compiled_loop_across_stretches(name, monkeypatch):
    """The compiled loop runs ``ROWS`` rows (steps x batch) at a time; with ROWS = 8 and B = 4 every
    stretch is 2 steps, so carries cross 3 stretch boundaries forwards and backwards (T = 6 and T = 7)."""
    monkeypatch.setattr(min_scan, "ROWS", 8)
    cell = make(name)
    for steps in (6, 7):
        gen = torch.Generator().manual_seed(steps)
        x = torch.randn(steps, 4, 3, generator=gen, dtype=DT, requires_grad=True)
        state = torch.randn(4, 5, generator=gen, dtype=DT, requires_grad=True)
        lengths = torch.tensor([steps, 3, 1, 5])
        want = run_with_grads(reference.run, cell, x, state, lengths, True)
        assert_same(run_with_grads(partial(scan.run, scan_mode="fused"), cell, x, state, lengths, True), want, 1e-10)
    assert gradcheck_all(cell, lambda c, x, s: scan.run(c, x, s, LENGTHS, False, scan_mode="fused"), x[:6], state)


def test_float16_is_refused_with_the_dtypes_it_runs():
    assert scan.unsupported(make("mingru"), torch.float16) == "scan runs float32 and float64, not torch.float16"
