"""Recording per-step states and state gradients: reference and bptt against a hand-stepped cell."""
import itertools
from functools import partial

import pytest
import torch

from rnnkit.kernels import bptt, dispatch, reference
from rnnkit.kernels.record import Recorder
from tests.gradcheck_utils import flat
from tests.kernels.engine_cases import B, DT, LENGTH_CASES, T, inputs, make_cell

CASES = [("elman-tanh", False), ("elman-relu", False), ("elman-tanh", True), ("lstm", False), ("lstm", True),
         ("lstm-proj", False), ("lstm-proj", True), ("gru", False), ("gru", True)]


def _weights(cell, seed=7):
    """Random weights of the loss: one per output entry and one per final-state entry."""
    gen = torch.Generator().manual_seed(seed)
    w_out = torch.randn(T, B, cell.output_size, generator=gen, dtype=DT)
    w_fin = [torch.randn(s.shape, generator=gen, dtype=DT) for s in flat(cell.init_state(B, dtype=DT))]
    return w_out, w_fin


def _hand(cell, x, state, lengths, reverse):
    """Step each sample by hand over its own length (backwards for reverse); autograd.grad of the loss
    w.r.t. every new state. Returns per part (T+1, B, S) states and (T, B, S) gradients, reading order."""
    w_out, w_fin = _weights(cell)
    start = state if state is not None else cell.init_state(B, dtype=DT)
    n_parts = len(flat(start))
    loss, probes, traces = 0.0, [], []
    for b in range(B):
        n = T if lengths is None else int(lengths[b])
        steps = list(range(n))[::-1] if reverse else list(range(n))  # input positions in reading order
        s = tuple(p[b:b + 1] for p in flat(start))
        made = []
        for pos in steps:
            y, new = cell.step(x[pos, b:b + 1], s if n_parts > 1 else s[0])
            s = tuple(flat(new))
            made.append(s)
            loss = loss + (y * w_out[pos, b]).sum()
        loss = loss + sum((p * w[b]).sum() for p, w in zip(s, w_fin))
        probes.append(made)
        traces.append([tuple(p[b:b + 1] for p in flat(start))] + made)
    wanted = [p for made in probes for s in made for p in s]
    grads = iter(torch.autograd.grad(loss, wanted, allow_unused=True))
    states = [torch.zeros(T + 1, B, p.shape[-1], dtype=DT) for p in flat(start)]
    dstates = [torch.zeros(T, B, p.shape[-1], dtype=DT) for p in flat(start)]
    for b, (made, trace) in enumerate(zip(probes, traces)):
        for t in range(T + 1):
            for j in range(n_parts):
                states[j][t, b] = trace[min(t, len(trace) - 1)][j][0].detach()  # held after the end
        for t in range(len(made)):
            for j in range(n_parts):
                g = next(grads)
                if g is not None:
                    dstates[j][t, b] = g[0]
    return states, dstates


def _recorded(run, cell, x, state, lengths, reverse):
    w_out, w_fin = _weights(cell)
    recorder = Recorder()
    start = state if state is not None else cell.init_state(B, dtype=DT)
    out, final = run(cell, x, start, lengths, reverse, record=recorder)
    assert len(recorder) == 1 and recorder[0].grad_parts is None and recorder[0].state_grads is None
    loss = (out * w_out).sum() + sum((f * w).sum() for f, w in zip(flat(final), w_fin))
    recorder.backward(loss)
    return recorder[0]


def _cases():
    for (name, ln), length_case, reverse, with_state in itertools.product(
            CASES, LENGTH_CASES, (False, True), (False, True)):
        tag = f"{name}-{'ln' if ln else 'plain'}-{length_case}-{'reverse' if reverse else 'forward'}-" \
              f"{'h0' if with_state else 'zero-h0'}"
        yield pytest.param(name, ln, length_case, reverse, with_state, id=tag)


@pytest.mark.parametrize("name,ln,length_case,reverse,with_state", list(_cases()))
def test_recorded_states_and_gradients_equal_autograd_of_a_hand_stepped_cell(name, ln, length_case, reverse,
                                                                            with_state):
    cell = make_cell(name, ln)
    x, state = inputs(cell, with_state)
    lengths = LENGTH_CASES[length_case]
    want_states, want_grads = _hand(cell, x, state, lengths, reverse)
    runs = {"reference": reference.run, "bptt": bptt.run,
            "bptt-k4": partial(bptt.run, checkpoint_every=4), "bptt-k1": partial(bptt.run, checkpoint_every=1)}
    for label, run in runs.items():
        rec = _recorded(run, cell, x, state, lengths, reverse)
        assert rec.engine == label.split("-")[0] and rec.reverse == reverse and rec.length == T
        assert len(rec.states) == T + 1 and len(rec.state_grads) == T
        for j, (got, want) in enumerate(zip(rec.state_parts, want_states, strict=True)):
            torch.testing.assert_close(got, want, rtol=0, atol=1e-10, msg=lambda m, j=j: f"{label} state {j}: {m}")
        for j, (got, want) in enumerate(zip(rec.grad_parts, want_grads, strict=True)):
            torch.testing.assert_close(got, want, rtol=0, atol=1e-10, msg=lambda m, j=j: f"{label} dL/dh {j}: {m}")


def test_recorded_inputs_are_in_reading_order_with_padding_zeroed():
    cell = make_cell("gru", False)
    x, state = inputs(cell, True)
    lengths = LENGTH_CASES["lengths"]
    for run in (reference.run, bptt.run):
        recorder = Recorder()
        run(cell, x, state, lengths, True, record=recorder)
        rec = recorder[0]
        for b in range(B):
            n = int(lengths[b])
            torch.testing.assert_close(rec.inputs[:n, b], x[:n, b].flip(0), rtol=0, atol=0)
            assert (rec.inputs[n:, b] == 0).all()
        assert torch.equal(rec.alive(), torch.arange(T).unsqueeze(1) < lengths)
        assert torch.equal(rec.lengths, lengths) and rec.tuple_state is False
        assert torch.equal(rec.states[0], state.detach())


def test_a_later_backward_overwrites_the_gradients():
    cell = make_cell("lstm", False)
    x, state = inputs(cell, True)
    recorder = Recorder()
    out, _ = bptt.run(cell, x, state, record=recorder)
    recorder.backward(out.sum(), retain_graph=True)
    first = [g.clone() for g in recorder[0].grad_parts]
    recorder.backward(2 * out.sum())
    for a, b in zip(first, recorder[0].grad_parts):
        torch.testing.assert_close(b, 2 * a, rtol=0, atol=1e-12)


def test_without_a_graph_states_are_recorded_and_backward_says_why_not():
    cell = make_cell("elman-tanh", False)
    x, state = inputs(cell, True)
    x = x.detach()
    recorder = Recorder()
    with torch.no_grad():
        reference.run(cell, x, state, record=recorder)
    assert recorder[0].state_parts[0].shape == (T + 1, B, 5) and recorder[0].state_grads is None
    cell.requires_grad_(False)
    with pytest.raises(ValueError, match="expected recordings with a parameter or input that requires a gradient"):
        recorder.backward(x.sum())


def test_auto_records_on_the_first_engine_of_the_order_that_can():
    lstm = make_cell("lstm", False)  # measured order: native > bptt > reference
    recorder = Recorder()
    dispatch.select("auto", lstm, DT, record=recorder)(lstm, *inputs(lstm, True))
    assert recorder[0].engine == "bptt" and recorder.note == ""
    assert dispatch.choose(lstm, DT, {}, recording=True) == "bptt"
    assert [n for n, e in dispatch.ENGINES.items() if e.records] == ["bptt", "scan", "reference"]


def test_a_named_engine_that_cannot_record_raises_unless_asked_to_fall_back():
    lstm = make_cell("lstm", False)
    with pytest.raises(ValueError, match="engine 'native' cannot record per-step states: torch's fused kernel runs "
                                         "the whole sequence in one call. Record on one that can"):
        dispatch.select("native", lstm, DT, record=Recorder())
    recorder = Recorder(fallback=True)
    dispatch.select("native", lstm, DT, record=recorder)(lstm, *inputs(lstm, True))
    dispatch.select("native", lstm, DT, record=recorder)(lstm, *inputs(lstm, True))
    assert recorder.note == ("engine 'native' cannot record per-step states: torch's fused kernel runs the whole "
                             "sequence in one call; measured on engine 'bptt' with the same weights")
    assert [r.engine for r in recorder] == ["bptt", "bptt"]


def test_recorder_argument_validation():
    with pytest.raises(TypeError, match="Recorder: expected fallback to be a bool"):
        Recorder(fallback="yes")
