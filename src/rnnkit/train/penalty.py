r"""The vanishing-gradient regulariser of Pascanu, Mikolov & Bengio (2013).

For a recurrence :math:`h_{k+1} = F(x_{k+1}, h_k)` and loss :math:`E`, the gradient that
reaches step :math:`k` is :math:`\partial E / \partial h_k`. The regulariser asks each
step's Jacobian to preserve the norm of the error signal that flows back through it:

.. math::

    \Omega = \frac{1}{|K|} \sum_{(k, b) \in K}
        \left( \frac{\left\| \frac{\partial E}{\partial h_{k+1}}
                     \frac{\partial h_{k+1}}{\partial h_k} \right\|}
                    {\left\| \frac{\partial E}{\partial h_{k+1}} \right\|} - 1 \right)^2

over the steps :math:`k` and samples :math:`b` where the back-flowing gradient is not
zero (the paper sums over :math:`k`; the mean keeps the weight independent of T and B).
As in the paper, :math:`\partial E / \partial h_{k+1}` and :math:`h_k` are held constant:
:math:`\Omega` reaches the parameters only through the Jacobian
:math:`\partial h_{k+1} / \partial h_k`. For a tuple state (LSTM: ``(h, c)``) the state
is the concatenation of its parts. The Trainer minimises :math:`E + \lambda \Omega`.

Cost: one extra backward to the states, and one batched cell step over all T·B
transitions with a double backward through it.
"""
from __future__ import annotations

import torch

from rnnkit.models.sequence import Trace


def _parts(state) -> tuple[torch.Tensor, ...]:
    return tuple(state) if isinstance(state, tuple) else (state,)


def vanishing_gradient_penalty(loss: torch.Tensor, traces: list[Trace], eps: float = 1e-20) -> torch.Tensor:
    """Omega summed over layers, for ``loss`` and the per-layer ``traces`` of the forward pass that made it.

    Keeps the graph of ``loss`` (``retain_graph=True``) so the caller can backpropagate
    ``loss + weight * Omega`` afterwards.
    """
    total = loss.new_zeros(())
    for trace in traces:
        T, B = trace.inputs.shape[:2]
        later = [p for state in trace.states[1:] for p in _parts(state)]  # h_1 .. h_T, each part (B, H)
        grads = torch.autograd.grad(loss, later, retain_graph=True, allow_unused=True)
        n = len(_parts(trace.states[0]))
        # dE/dh_{k+1} per part, stacked over k: (T, B, H_part), held constant
        v = [torch.stack([g if g is not None else torch.zeros_like(p)
                          for g, p in zip(grads[j::n], later[j::n])]).detach() for j in range(n)]
        # h_k for k = 0 .. T-1, held constant, flattened to a batch of T*B transitions
        prev = [torch.stack([_parts(s)[j] for s in trace.states[:-1]]).detach().flatten(0, 1).requires_grad_()
                for j in range(n)]  # (T*B, H_part)
        x = trace.inputs.flatten(0, 1)  # (T*B, I)
        _, nxt = trace.cell.step(x, prev[0] if n == 1 else tuple(prev))
        vjp = torch.autograd.grad(_parts(nxt), prev, [vj.flatten(0, 1) for vj in v],
                                  create_graph=True, allow_unused=True)
        back = sum((g ** 2).sum(-1) for g in vjp if g is not None)  # (T*B,) ||v J||^2
        front = sum((vj.flatten(0, 1) ** 2).sum(-1) for vj in v)  # (T*B,) ||v||^2
        live = front > eps
        if bool(live.any()):
            ratio = torch.sqrt(back[live] + eps) / torch.sqrt(front[live])
            total = total + ((ratio - 1.0) ** 2).mean()
    return total
