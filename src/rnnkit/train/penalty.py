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

The per-step states and their gradients come from recordings of the forward pass
(:mod:`rnnkit.kernels.record`); with ``lengths``, steps past a sequence's end count as
having no back-flowing gradient. :class:`VanishingGradientPenalty` is the Trainer hook
that records the training forward and adds :math:`\lambda \Omega` to the objective.

Cost: one extra backward to the states, and one batched cell step over all T·B
transitions with a double backward through it.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch

from rnnkit._state import parts
from rnnkit.kernels.record import Recording, backward_to_states
from rnnkit.layers import record_states, recurrent_layers
from rnnkit.train.hooks import Hook


def vanishing_gradient_penalty(loss: torch.Tensor, recordings, eps: float = 1e-20) -> torch.Tensor:
    """Omega summed over the ``recordings`` (a Recorder or a list of Recordings) of the forward that made ``loss``.

    Fills the recordings' state gradients from ``loss`` and keeps its graph
    (``retain_graph=True``), so the caller can backpropagate ``loss + weight * Omega`` afterwards.
    """
    recordings = list(recordings)
    backward_to_states(loss, recordings, retain_graph=True)
    total = loss.new_zeros(())
    for rec in recordings:
        total = total + _omega(rec, eps)
    return total


def _omega(rec: Recording, eps: float) -> torch.Tensor:
    """Omega of one recording, or 0 when no gradient flows back through any of its steps."""
    if rec.grad_parts is None:
        return torch.zeros((), dtype=rec.inputs.dtype, device=rec.inputs.device)
    alive = rec.alive().unsqueeze(-1)  # (T, B, 1): steps past a sequence's end have no back-flowing gradient
    # dE/dh_{k+1} per part, held constant, flattened to a batch of T*B transitions: (T*B, S_j)
    v = [torch.where(alive, g, torch.zeros_like(g)).detach().flatten(0, 1) for g in rec.grad_parts]
    # h_k for k = 0 .. T-1, held constant: (T*B, S_j)
    prev = [p[:-1].flatten(0, 1).detach().requires_grad_() for p in rec.state_parts]
    x = rec.inputs.flatten(0, 1)  # (T*B, I)
    _, nxt = rec.cell.step(x, tuple(prev) if rec.tuple_state else prev[0])
    vjp = torch.autograd.grad(parts(nxt), prev, v, create_graph=True, allow_unused=True)
    back = sum((g ** 2).sum(-1) for g in vjp if g is not None)  # (T*B,) ||v J||^2
    front = sum((vj ** 2).sum(-1) for vj in v)  # (T*B,) ||v||^2
    live = front > eps
    if not bool(live.any()):
        return torch.zeros((), dtype=x.dtype, device=x.device)
    ratio = torch.sqrt(back[live] + eps) / torch.sqrt(front[live])
    return ((ratio - 1.0) ** 2).mean()


class VanishingGradientPenalty(Hook):
    """Trainer hook: minimise ``loss + weight * Omega``, Omega from a recording of each training forward.

    It records every rnnkit recurrent layer of the trainer's model (engines that cannot
    record are replaced by one that can, same weights). The Trainer adds it when
    ``config.penalty > 0``; a model without an rnnkit recurrent layer is a ``TypeError``.
    """

    name = "vanishing_gradient_penalty"

    def __init__(self, weight: float) -> None:
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
            raise ValueError(f"VanishingGradientPenalty: expected weight to be a number > 0, got {weight!r}")
        self.weight = float(weight)
        self._recorder = None  # the recording of the latest training forward, until its objective

    def on_attach(self, trainer) -> None:
        model = trainer.raw_model
        if not recurrent_layers(model):
            raise TypeError(f"Trainer: penalty > 0 needs a model holding an rnnkit recurrent layer "
                            f"(rnnkit.RNN/LSTM/GRU/Recurrent), got {type(model).__name__}, which holds none")

    @contextmanager
    def around_forward(self, trainer):
        with record_states(trainer.raw_model, fallback=True) as recorder:
            yield
        self._recorder = recorder

    def objective(self, trainer, loss: torch.Tensor) -> torch.Tensor | None:
        recorder, self._recorder = self._recorder, None
        if recorder is None:
            return None
        return self.weight * vanishing_gradient_penalty(loss, recorder)
