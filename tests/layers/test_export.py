"""torch.export of inference models holding rnnkit layers, on every engine: the exported program
computes what the eager model computes, on inputs other than the one it was traced with."""
import pytest
import torch

import rnnkit


class Tagger(torch.nn.Module):
    def __init__(self, kind: str, engine: str) -> None:
        super().__init__()
        self.rnn = getattr(rnnkit, kind)(3, 4, engine=engine, num_layers=2)
        self.head = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.rnn(x)[0])


@pytest.mark.parametrize("engine", ["auto", "fused", "bptt", "native", "reference"])
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_an_exported_model_computes_what_the_eager_one_does(kind, engine):
    torch.manual_seed(0)
    model = Tagger(kind, engine).eval()
    program = torch.export.export(model, (torch.randn(5, 2, 3),))
    x = torch.randn(5, 2, 3)  # not the tracing input: the program is a graph, not a recording
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), model(x), atol=1e-6, rtol=0)
