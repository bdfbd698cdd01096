"""Gradients of gradients through the hand-written engines: a backward with ``create_graph=True``
recomputes the layer through the cell's own math, so gradient penalties, Hessian-vector products and
MAML give the reference engine's numbers, and ``gradgradcheck`` holds."""
import pytest
import torch
from torch.autograd import gradgradcheck

import rnnkit
from rnnkit.kernels import bptt, reference
from rnnkit.kernels.fused import recurrent
from tests.gradcheck_utils import flat
from tests.kernels.engine_cases import CELLS, DT, LENGTHS, inputs, make_cell

ENGINES = {"bptt": bptt.run, "fused": recurrent.run}


def _penalty_grads(run, cell, x, state, lengths, reverse, **options):
    """A WGAN-GP style penalty: the gradient (by parameter) of ||dL/dx||^2 + ||dL/dh0||^2."""
    out, final = run(cell, x, state, lengths, reverse, **options)
    loss = (out ** 2).sum() / 2 + sum((f ** 2).sum() for f in flat(final)) / 2
    leaves = [x, *flat(state)]
    first = torch.autograd.grad(loss, leaves, create_graph=True)
    penalty = sum((g ** 2).sum() for g in first)
    names, params = zip(*cell.named_parameters())
    return dict(zip(("input", *names), torch.autograd.grad(penalty, (x, *params))))


@pytest.mark.parametrize("engine", list(ENGINES))
@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize("ln", [False, True], ids=["plain", "ln"])
def test_a_gradient_penalty_gives_the_reference_engines_numbers(engine, name, ln):
    cell = make_cell(name, ln)
    x, state = inputs(cell, True)
    for lengths, reverse, options in ((None, False, {}), (LENGTHS, True, {}), (LENGTHS, False, {"checkpoint_every": 2})):
        want = _penalty_grads(reference.run, cell, x, state, lengths, reverse)
        got = _penalty_grads(ENGINES[engine], cell, x, state, lengths, reverse, **options)
        for key in want:  # float64 rounding is relative: 1e-10 of each gradient's largest magnitude (at least 1)
            atol = 1e-10 * max(1.0, want[key].abs().max().item())
            torch.testing.assert_close(got[key], want[key], atol=atol, rtol=0, msg=lambda m, k=key: f"{k}: {m}")


@pytest.mark.parametrize("engine", list(ENGINES))
@pytest.mark.parametrize("kind, options", [("RNN", {}), ("LSTM", {"proj_size": 2}), ("GRU", {"layer_norm": True})])
def test_gradgradcheck_through_a_stacked_bidirectional_layer(engine, kind, options):
    torch.manual_seed(0)
    layer = getattr(rnnkit, kind)(2, 3, num_layers=2, bidirectional=True, engine=engine, dtype=DT, **options)
    names = ["weight_hh_l0", "weight_ih_l1_reverse"]  # one of each direction and layer: gradgradcheck is slow
    x = torch.randn(4, 2, 2, dtype=DT, requires_grad=True)

    def f(x, *weights):
        out, _ = torch.func.functional_call(layer, dict(zip(names, weights)), (x,), {"lengths": torch.tensor([4, 2])})
        return out

    assert gradgradcheck(f, (x, *(getattr(layer, n) for n in names)), eps=1e-6, atol=1e-5)


def test_a_hessian_vector_product_in_eval_mode_matches_the_reference_engine():
    torch.manual_seed(1)
    layers = {e: rnnkit.GRU(3, 4, engine=e, dtype=DT) for e in ("reference", "bptt")}
    layers["bptt"].load_state_dict(layers["reference"].state_dict())
    x = torch.randn(6, 2, 3, dtype=DT)
    v = [torch.randn_like(p) for p in layers["reference"].parameters()]
    hvps = {}
    for engine, layer in layers.items():
        layer.eval()
        params = list(layer.parameters())
        grads = torch.autograd.grad(layer(x)[0].pow(2).sum(), params, create_graph=True)
        hvps[engine] = torch.autograd.grad(sum((g * u).sum() for g, u in zip(grads, v)), params)
    for a, b in zip(hvps["bptt"], hvps["reference"]):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)
