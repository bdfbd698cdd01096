"""torch.compile and torch.export of a model holding rnnkit layers, on every engine: the same numbers as
eager. Under torch.compile the layers run eagerly inside the compiled model, as torch.nn's RNNs do; an
exported inference program computes what the eager model computes, on inputs other than the one it was
traced with."""
import pytest
import torch

import rnnkit


class Tagger(torch.nn.Module):
    def __init__(self, kind: str, engine: str) -> None:
        super().__init__()
        self.rnn = getattr(rnnkit, kind)(5, 8, engine=engine, num_layers=2)
        self.head = torch.nn.Linear(8, 3)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(torch.relu(out))


@pytest.mark.parametrize("engine", ["auto", "bptt", "fused", "reference"])
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_a_compiled_model_trains_and_infers_with_eagers_numbers(kind, engine):
    torch.manual_seed(0)
    model = Tagger(kind, engine)
    compiled = torch.compile(model)
    x = torch.randn(6, 2, 5)
    eager_out = model(x)
    eager_out.square().sum().backward()
    eager_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    out = compiled(x)
    out.square().sum().backward()
    torch.testing.assert_close(out, eager_out, atol=1e-6, rtol=0)
    for p, g in zip(model.parameters(), eager_grads):
        torch.testing.assert_close(p.grad, g, atol=1e-5, rtol=0)
    with torch.no_grad():
        torch.testing.assert_close(compiled.eval()(x), model.eval()(x), atol=1e-6, rtol=0)


@pytest.mark.parametrize("kind, engine", [*((k, e) for k in ("RNN", "LSTM", "GRU")
                                             for e in ("auto", "fused", "bptt", "native", "reference")),
                                          ("MinGRU", "scan"), ("MinLSTM", "auto")])
def test_an_exported_model_computes_what_the_eager_one_does(kind, engine):
    torch.manual_seed(0)
    model = Tagger(kind, engine).eval()
    program = torch.export.export(model, (torch.randn(6, 2, 5),), dynamic_shapes=({1: torch.export.Dim("batch")},))
    x = torch.randn(6, 5, 5)  # not the tracing input, nor its batch: the program is a graph, not a recording
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), model(x), atol=1e-6, rtol=0)
