"""Shared cases for testing engines against the reference engine."""
import itertools

import pytest
import torch

from rnnkit.cells import ElmanCell, GRUCell, LSTMCell
from tests.gradcheck_utils import flat

DT = torch.float64
T, B, I = 6, 4, 3
LENGTHS = torch.tensor([4, 6, 1, 5])  # unsorted, one full, one of length 1
SHORT = torch.tensor([3, 1, 4, 3])  # no sequence spans all T steps; ties
LENGTH_CASES = {"full": None, "lengths": LENGTHS, "short": SHORT}

CELLS = {
    "elman-tanh": lambda ln: ElmanCell(I, 5, nonlinearity="tanh", layer_norm=ln, dtype=DT),
    "elman-relu": lambda ln: ElmanCell(I, 5, nonlinearity="relu", layer_norm=ln, dtype=DT),
    "elman-nobias": lambda ln: ElmanCell(I, 5, bias=False, layer_norm=ln, dtype=DT),
    "lstm": lambda ln: LSTMCell(I, 5, layer_norm=ln, dtype=DT),
    "lstm-proj": lambda ln: LSTMCell(I, 5, proj_size=2, layer_norm=ln, dtype=DT),
    "lstm-nobias": lambda ln: LSTMCell(I, 5, bias=False, layer_norm=ln, dtype=DT),
    "gru": lambda ln: GRUCell(I, 5, layer_norm=ln, dtype=DT),
    "gru-nobias": lambda ln: GRUCell(I, 5, bias=False, layer_norm=ln, dtype=DT),
}


def make_cell(name, ln, seed=0):
    torch.manual_seed(seed)
    cell = CELLS[name](ln)
    with torch.no_grad():  # move layer-norm gains and shifts off their initial 1 and 0
        for n, p in cell.named_parameters():
            if n.startswith("ln_"):
                p.add_(0.3 * torch.randn_like(p))
    return cell


def run_with_grads(run, cell, x, state, lengths, reverse, seed=5):
    """Outputs, final state, and gradients (by name) of a random linear functional of both."""
    leaves = {"input": x}
    if state is not None:
        leaves.update({f"state{k}": s for k, s in enumerate(flat(state))})
    leaves.update(dict(cell.named_parameters()))
    start = state if state is not None else cell.init_state(x.shape[1], dtype=x.dtype)
    out, final = run(cell, x, start, lengths, reverse)
    gen = torch.Generator().manual_seed(seed)
    # drawn in float64 whatever the run's dtype, so float32 and float64 runs get the same weights
    loss = (out * torch.randn(out.shape, generator=gen, dtype=torch.float64).to(out.dtype)).sum()
    for f in flat(final):
        loss = loss + (f * torch.randn(f.shape, generator=gen, dtype=torch.float64).to(f.dtype)).sum()
    grads = torch.autograd.grad(loss, list(leaves.values()))
    return out, flat(final), dict(zip(leaves, grads))


def assert_same(got, want, atol):
    out_g, fin_g, grads_g = got
    out_w, fin_w, grads_w = want
    torch.testing.assert_close(out_g, out_w, atol=atol, rtol=0)
    for a, b in zip(fin_g, fin_w, strict=True):
        torch.testing.assert_close(a, b, atol=atol, rtol=0)
    assert list(grads_g) == list(grads_w)
    for name in grads_w:
        torch.testing.assert_close(grads_g[name], grads_w[name], atol=atol, rtol=0,
                                   msg=lambda m, name=name: f"gradient of {name}: {m}")


def largest_error(got, want) -> float:
    """The largest absolute difference over outputs, final states and every gradient (``run_with_grads``'s)."""
    (out_g, fin_g, grads_g), (out_w, fin_w, grads_w) = got, want
    pairs = [(out_g, out_w), *zip(fin_g, fin_w), *((grads_g[k], grads_w[k]) for k in grads_w)]
    return max(float((a.detach().double() - b.detach()).abs().max()) for a, b in pairs)


def inputs(cell, with_state, seed=3):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(T, B, I, generator=gen, dtype=DT, requires_grad=True)
    if not with_state:
        return x, None
    state = cell.init_state(B, dtype=DT)
    state = tuple(torch.randn(s.shape, generator=gen, dtype=DT, requires_grad=True) for s in flat(state))
    return x, state if len(state) > 1 else state[0]


def grid():
    """Every cell (incl. no-bias) x plain/layer norm x lengths case x direction x initial state, as pytest params
    (name, ln, length_case, reverse, with_state)."""
    for name, ln, lengths, reverse, with_state in itertools.product(
            CELLS, (False, True), LENGTH_CASES, (False, True), (False, True)):
        tag = (f"{name}-{'ln' if ln else 'plain'}-{lengths}-"
               f"{'reverse' if reverse else 'forward'}-{'h0' if with_state else 'zero-h0'}")
        yield pytest.param(name, ln, lengths, reverse, with_state, id=tag)
