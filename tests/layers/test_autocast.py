"""AMP autocast on the CPU (bfloat16) for inference on every engine: torch.nn's numbers to bfloat16's
rounding. Served for the GRU; the Elman RNN and the LSTM are not yet (their hand-written loops mix
autocast's bfloat16 products with float32 weights), and torch.nn's own LSTM fails here too: docs/ecosystem.md."""
import pytest
import torch

import rnnkit


@pytest.mark.parametrize("engine", ["auto", "bptt", "fused", "native", "reference"])
@pytest.mark.parametrize("kind", ["GRU"])  # RNN and LSTM: not yet on bptt/fused (docs/ecosystem.md)
def test_inference_under_autocast_gives_torch_nns_numbers_to_bfloat16_rounding(kind, engine):
    torch.manual_seed(0)
    ours = getattr(rnnkit, kind)(3, 4, engine=engine)
    theirs = getattr(torch.nn, kind)(3, 4)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(5, 2, 3)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        a, b = ours(x)[0], theirs(x)[0]
    torch.testing.assert_close(a.float(), b.float(), atol=3e-2, rtol=0)  # bfloat16 keeps about 3 digits
