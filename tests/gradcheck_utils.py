"""gradcheck over inputs, initial state and every parameter of a module at once."""
import torch
from torch import nn
from torch.func import functional_call


def flat(state):
    return list(state) if isinstance(state, tuple) else [state]


def gradcheck_all(module: nn.Module, run, x: torch.Tensor, state, **kwargs) -> bool:
    """gradcheck ``run(module, x, state) -> tensor or tuple`` w.r.t. x, each state tensor, each parameter.

    Parameters become explicit gradcheck inputs through ``torch.func.functional_call``.
    """
    names = [n for n, _ in module.named_parameters()]
    params = [p.detach().clone().requires_grad_() for _, p in module.named_parameters()]
    states = [s.detach().clone().requires_grad_() for s in flat(state)]
    is_tuple = isinstance(state, tuple)

    class _Call(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = module

        def forward(self, x, *st):
            out, final = run(self.inner, x, tuple(st) if is_tuple else st[0])
            return (*flat(out), *flat(final))

    wrapper = _Call()
    n = len(states)

    def fn(x, *rest):
        values = {f"inner.{k}": v for k, v in zip(names, rest[n:])}
        return functional_call(wrapper, values, (x, *rest[:n]))

    kwargs.setdefault("eps", 1e-6)
    kwargs.setdefault("atol", 1e-7)
    return torch.autograd.gradcheck(fn, (x.detach().clone().requires_grad_(), *states, *params), **kwargs)
