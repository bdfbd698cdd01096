"""torch.func on every engine: grad, jacrev and vmap (over inputs and over stacked weights) give
torch.nn's numbers, whatever engine the layer was built with."""
import pytest
import torch
from torch.func import functional_call, grad, jacrev, stack_module_state, vmap

import rnnkit
from rnnkit.kernels.dispatch import under_transform

DT = torch.float64
KINDS = {"RNN": torch.nn.RNN, "GRU": torch.nn.GRU, "LSTM": torch.nn.LSTM}
ENGINES = ["auto", "bptt", "fused", "native", "reference"]


def _pair(kind: str, engine: str, seed: int = 0):
    torch.manual_seed(seed)
    ours = getattr(rnnkit, kind)(3, 4, engine=engine, dtype=DT)
    theirs = KINDS[kind](3, 4, dtype=DT)
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


def _params(layer) -> dict:
    return {k: v.detach() for k, v in layer.named_parameters()}


def _loss(layer):
    return lambda p, x: functional_call(layer, p, (x,))[0].pow(2).sum()


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("kind", list(KINDS))
def test_grad_and_jacrev_give_torch_nns_numbers(kind, engine):
    ours, theirs = _pair(kind, engine)
    x = torch.randn(5, 2, 3, dtype=DT)
    got, want = grad(_loss(ours))(_params(ours), x), grad(_loss(theirs))(_params(theirs), x)
    for name in want:
        torch.testing.assert_close(got[name], want[name], atol=1e-12, rtol=0)
    jac = lambda layer: jacrev(lambda x: functional_call(layer, _params(layer), (x,))[0])(x)  # noqa: E731
    torch.testing.assert_close(jac(ours), jac(theirs), atol=1e-12, rtol=0)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("kind", list(KINDS))
def test_vmap_over_sequences_is_each_sequence_run_alone(kind, engine):
    ours, _ = _pair(kind, engine)
    x = torch.randn(3, 6, 3, dtype=DT)  # three independent (T, I) sequences, vmapped over dim 0
    batched = vmap(lambda xi: ours(xi)[0])(x)
    alone = torch.stack([ours(xi)[0] for xi in x])
    torch.testing.assert_close(batched, alone, atol=1e-12, rtol=0)


@pytest.mark.parametrize("engine", ["auto", "bptt", "fused"])
def test_vmap_over_an_ensemble_of_weights_is_each_model_run_alone(engine):
    models = [_pair("GRU", engine, seed)[0] for seed in range(3)]
    params, buffers = stack_module_state(models)
    x = torch.randn(5, 2, 3, dtype=DT)
    run = lambda p, b: functional_call(models[0], (p, b), (x,))[0]  # noqa: E731
    torch.testing.assert_close(vmap(run)(params, buffers), torch.stack([m(x)[0] for m in models]), atol=1e-12, rtol=0)


def test_transforms_are_detected_only_while_running():
    seen = []
    grad(lambda x: (seen.append(under_transform()), x.sum())[1])(torch.ones(2))
    assert seen == [True] and not under_transform()
