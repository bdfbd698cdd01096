r"""Gradient flow through time: :math:`\|\partial L / \partial h_t\|` at every step.

For a recurrence :math:`h_t = F(x_t, h_{t-1})` and a loss :math:`L` of the outputs,
the full gradient that reaches step :math:`t` sums every path from :math:`h_t` to
:math:`L`, through the output at step :math:`t` and through all later steps:

.. math::

    \frac{\partial L}{\partial h_t} = \frac{\partial L}{\partial y_t}\frac{\partial y_t}{\partial h_t}
        + \frac{\partial L}{\partial h_{t+1}} \frac{\partial h_{t+1}}{\partial h_t},
    \qquad \frac{\partial L}{\partial h_{t-k}} \approx
        \frac{\partial L}{\partial h_t} \prod_{s=t-k+1}^{t} \frac{\partial h_s}{\partial h_{s-1}}

When the Jacobian products shrink (or grow) geometrically with the lag :math:`k`, the
gradient vanishes (or explodes): :func:`gradient_flow` measures it.

The states and their gradients come from the engine that runs the layer: every engine
that can record (:mod:`rnnkit.kernels.record`; ``reference`` and ``bptt``) gives
:math:`\partial L / \partial h_t` for every t. The ``native`` engine runs the sequence in
one fused kernel, so :func:`gradient_flow` says so and runs the same weights on the
first engine of the measured order that can record instead (same numbers, see the
engine tests).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from rnnkit.kernels.dispatch import ENGINES


def state_gradient_support(engine: str) -> str | None:
    """Why ``engine`` cannot give per-step state gradients, or None if it can (its declaration says)."""
    if engine not in ENGINES:
        return f"engine {engine!r} cannot provide per-step state gradients: it is not an rnnkit engine"
    reason = ENGINES[engine].cannot_record
    return None if reason is None else f"engine {engine!r} cannot provide per-step state gradients: {reason}"


@dataclass(frozen=True)
class GradientFlow:
    r"""The norms of :math:`\partial L/\partial h_t`, per layer, direction and time step.

    ``norms[l, d, t]`` is the Frobenius norm over batch and features of the gradient
    with respect to the output state ``h_t`` (``parts["c"]`` holds the LSTM cell state's);
    ``t`` indexes input positions, for both directions.
    """

    norms: torch.Tensor  # (L, D, T) ||dL/dh_t|| of the output state h
    parts: dict  # state part name ("h", "c") -> (L, D, T) norms of that part
    engine: str  # the engine the states were measured on
    note: str  # why the layer's own engine was not used, or "" when it was

    @property
    def num_layers(self) -> int:
        return self.norms.shape[0]

    @property
    def num_directions(self) -> int:
        return self.norms.shape[1]

    @property
    def length(self) -> int:
        return self.norms.shape[2]

    def ratio(self, layer: int = -1, direction: int = 0) -> torch.Tensor:
        r"""(T,) :math:`\|\partial L/\partial h_{t}\| / \|\partial L/\partial h_{last}\|`, the last step
        in this direction's reading order being the reference (lag 0)."""
        n = self.norms[layer, direction]  # (T,)
        ref = n[-1] if direction == 0 else n[0]
        return n / ref if ref > 0 else torch.full_like(n, float("nan"))

    def by_lag(self, layer: int = -1, direction: int = 0) -> torch.Tensor:
        """(T,) norms ordered by lag k = 0, 1, ..., T-1 back from this direction's last step."""
        n = self.norms[layer, direction]
        return n.flip(0) if direction == 0 else n

    def table(self) -> list[dict]:
        """Tidy rows ``{layer, direction, part, t, lag, norm}`` (direction 0 forward, 1 reverse)."""
        rows = []
        L, D, T = self.norms.shape
        for part, values in self.parts.items():
            for layer in range(L):
                for d in range(D):
                    for t in range(T):
                        rows.append({"layer": layer, "direction": d, "part": part, "t": t,
                                     "lag": T - 1 - t if d == 0 else t, "norm": float(values[layer, d, t])})
        return rows


def find_recurrent(model: torch.nn.Module):
    """The one :class:`rnnkit.Recurrent` in ``model`` (``model`` itself or a submodule)."""
    from rnnkit.layers import Recurrent

    found = [m for m in model.modules() if isinstance(m, Recurrent)]
    if len(found) != 1:
        raise ValueError(f"gradient_flow: expected a model with exactly 1 rnnkit recurrent layer "
                         f"(rnnkit.RNN/LSTM/GRU/Recurrent), got {len(found)}")
    return found[0]


def gradient_flow(model: torch.nn.Module, batch, loss_fn) -> GradientFlow:
    r"""Measure :math:`\|\partial L/\partial h_t\|` for every step, layer and direction of ``model``.

    Args:
        model: a module holding one rnnkit recurrent layer (``rnnkit.RNN/LSTM/GRU``, a
            :class:`rnnkit.Recurrent`, or a model around one such as
            :class:`rnnkit.models.SequenceModel`), called as ``model(x)``.
        batch: a :class:`rnnkit.data.Batch` (its ``x`` is fed) or an input tensor.
        loss_fn: ``loss_fn(output, batch) -> scalar``; ``output`` is the model's output
            (its first element when the model returns a tuple), so a task's ``loss`` fits.

    Sequences are taken at full length T (no ``lengths``): with padding, the steps past a
    sequence's end would read as zero gradient. Returns a :class:`GradientFlow`.
    Parameter ``.grad`` fields are left untouched
    (``torch.autograd.grad`` is used). When the layer's engine cannot record per-step
    states (``native``), ``note`` says so and the same weights run on the first engine of
    the measured order that can (``engine`` names it).

    Example::

        >>> model = rnnkit.models.SequenceModel("rnn", 2, 16, 1)
        >>> task = rnnkit.data.tasks.AddingTask(length=50, batch_size=4)
        >>> flow = gradient_flow(model, task.batch("val", 0), task.loss)
        >>> flow.norms.shape        # (L, D, T)
        torch.Size([1, 1, 50])
    """
    if not callable(loss_fn):
        raise TypeError(f"gradient_flow: expected loss_fn to be a callable (output, batch) -> loss, "
                        f"got {type(loss_fn).__name__}")
    x = batch if isinstance(batch, torch.Tensor) else getattr(batch, "x", None)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"gradient_flow: expected batch to be a tensor or to have a tensor .x, "
                        f"got {type(batch).__name__}")
    layer = find_recurrent(model)
    with torch.enable_grad():
        with layer.recording(fallback=True) as recorder:
            output = model(x)
        output = output[0] if isinstance(output, tuple) else output
        loss = loss_fn(output, batch)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise ValueError(f"gradient_flow: expected loss_fn to return a scalar tensor, got "
                         f"{type(loss).__name__}{'' if not isinstance(loss, torch.Tensor) else tuple(loss.shape)}")
    recorder.backward(loss)  # fills each recording's dL/dh_t; parameter .grad untouched
    L, D = layer.num_layers, layer.num_directions
    if len(recorder) != L * D:
        raise ValueError(f"gradient_flow: expected the model to run its recurrent layer once "
                         f"({L * D} cell calls), got {len(recorder)} cell calls")
    T = recorder[0].length
    n_parts = len(recorder[0].state_parts)
    norms = torch.zeros(n_parts, L * D, T, dtype=torch.float64)
    for i, rec in enumerate(recorder):
        if rec.length != T:
            raise ValueError(f"gradient_flow: expected every cell to run {T} steps, cell {i} ran {rec.length}")
        if rec.grad_parts is None:
            continue  # no gradient reached this cell: its norms stay 0
        for j, g in enumerate(rec.grad_parts):  # (T, B, S_j) in reading order
            n = torch.linalg.vector_norm(g.detach().double().flatten(1), dim=1)  # (T,)
            norms[j, i] = n.flip(0) if rec.direction == 1 else n  # the reverse direction reads time backwards
    norms = norms.view(n_parts, L, D, T)
    names = ("h", "c") if n_parts == 2 else tuple(f"part{j}" for j in range(n_parts))
    if n_parts == 1:
        names = ("h",)
    parts = {name: norms[j] for j, name in enumerate(names)}
    return GradientFlow(parts["h"], parts, recorder[0].engine, recorder.note)
