"""The native engine (torch's fused kernels) against the reference engine."""
import itertools

import pytest
import torch

from rnnkit.kernels import native, reference
from tests.kernels.engine_cases import CELLS, LENGTH_CASES, assert_same, inputs, make_cell, run_with_grads


@pytest.mark.parametrize("name,length_case,reverse,with_state", [
    pytest.param(*c, id=f"{c[0]}-{c[1]}-{'reverse' if c[2] else 'forward'}-{'h0' if c[3] else 'zero-h0'}")
    for c in itertools.product(CELLS, LENGTH_CASES, (False, True), (False, True))])
def test_native_equals_reference(name, length_case, reverse, with_state):
    cell = make_cell(name, False)
    x, state = inputs(cell, with_state)
    lengths = LENGTH_CASES[length_case]
    want = run_with_grads(reference.run, cell, x, state, lengths, reverse)
    assert_same(run_with_grads(native.run, cell, x, state, lengths, reverse), want, atol=1e-10)


def test_native_rejects_layer_norm():
    cell = make_cell("lstm", True)
    assert native.unsupported(cell, torch.float64) == "torch's fused kernels have no layer norm"
    with pytest.raises(ValueError, match="engine 'native' cannot run this request: torch's fused kernels have no "
                                         "layer norm"):
        native.run(cell, torch.randn(2, 1, 3, dtype=torch.float64), cell.init_state(1, dtype=torch.float64))
