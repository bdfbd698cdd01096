r"""Recording per-step states and their gradients: what an engine gives when run with ``record=``.

An engine whose declaration says it can record (:mod:`rnnkit.kernels.dispatch`) takes a
:class:`Recorder` as ``run(cell, x, state, lengths, reverse, record=recorder)`` and adds
one :class:`Recording` per call. For a call over T steps, in the order the cell read them
(for ``reverse=True`` each sequence backwards within its length):

.. math::

    h_0, h_1, \dots, h_T \quad\text{(the states)}, \qquad
    \frac{\partial L}{\partial h_1}, \dots, \frac{\partial L}{\partial h_T}
    \quad\text{(their total gradients, filled in by a backward)}

``dL/dh_t`` sums every path from ``h_t`` to the loss: through the output at step t and
through all later steps (for an LSTM, ``c_t`` also through ``h_t``). Past a sequence's
end (``lengths``) the state is held at the sequence's final state and its gradient is 0:
no step happened there. A later backward through the same graph overwrites the gradients.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from rnnkit._checks import check_bool


@dataclass(eq=False)
class Recording:
    """One engine call of one cell: inputs, every state and, after a backward, every state gradient."""

    cell: torch.nn.Module  # the cell that ran
    inputs: torch.Tensor  # (T, B, I) as the cell read them (reversed within lengths, padding zeroed), in the graph
    lengths: torch.Tensor | None  # (B,) int64 on the CPU, or None: every sequence has T steps
    reverse: bool  # whether each sequence was read backwards
    state_parts: tuple  # per state part, (T+1, B, S_j) h_0 .. h_T, detached, in reading order
    tuple_state: bool  # whether the cell's state is a tuple (LSTM (h, c)) rather than one tensor
    engine: str  # the engine that ran the call
    grad_parts: tuple | None = None  # per part, (T, B, S_j) dL/dh_1 .. dL/dh_T; None until a backward ran
    layer: int = 0  # the layer index in its rnnkit layer (set by Recorder.add)
    direction: int = 0  # 0 forward, 1 reverse (set by Recorder.add)

    @property
    def length(self) -> int:
        """T, the steps of the call."""
        return self.inputs.shape[0]

    @property
    def states(self) -> list:
        """The T + 1 states h_0 .. h_T, each in the cell's state structure."""
        return [self._structure(step) for step in zip(*(p.unbind(0) for p in self.state_parts))]

    @property
    def state_grads(self) -> list | None:
        """The T gradients dL/dh_1 .. dL/dh_T in the cell's state structure, or None before a backward."""
        if self.grad_parts is None:
            return None
        return [self._structure(step) for step in zip(*(p.unbind(0) for p in self.grad_parts))]

    def alive(self) -> torch.Tensor:
        """(T, B) bool: whether step t lies within sequence b (all True without lengths)."""
        T, B = self.inputs.shape[:2]
        if self.lengths is None:
            return torch.ones(T, B, dtype=torch.bool, device=self.inputs.device)
        return (torch.arange(T).unsqueeze(1) < self.lengths).to(self.inputs.device)

    def write_grad(self, t: int, part: int, grad: torch.Tensor) -> None:
        """Store dL/dh_{t+1} of one state part (B, S_j); a tensor hook (returns None: the gradient is unchanged)."""
        if self.grad_parts is None:
            self.grad_parts = tuple(p.new_zeros(p.shape[0] - 1, *p.shape[1:]) for p in self.state_parts)
        self.grad_parts[part][t].copy_(grad)

    def _structure(self, pieces):
        return tuple(pieces) if self.tuple_state else pieces[0]


class Recorder:
    """Collects the :class:`Recording` of every engine call it is passed to, in call order.

    Args:
        fallback: when an explicitly requested engine cannot record, run the first engine of
            the measured ``"auto"`` order that can (and keep a :attr:`note`) instead of raising.

    A layer sets :attr:`position` (layer, direction) before each call; engines know no layer.
    """

    def __init__(self, fallback: bool = False) -> None:
        self.fallback = check_bool("Recorder", "fallback", fallback)
        self.recordings: list[Recording] = []
        self.notes: list[str] = []  # one line per engine replaced, see note
        self.position = (0, 0)  # (layer, direction) of the next call

    def add(self, recording: Recording) -> Recording:
        """Append ``recording`` (an engine calls this), stamped with :attr:`position`."""
        recording.layer, recording.direction = self.position
        self.recordings.append(recording)
        return recording

    def replaced(self, requested: str, used: str, reason: str) -> None:
        """Note that ``used`` ran instead of ``requested``, which cannot record for ``reason``."""
        line = f"engine {requested!r} cannot record per-step states: {reason}; measured on engine {used!r} " \
               "with the same weights"
        if line not in self.notes:
            self.notes.append(line)

    def backward(self, loss: torch.Tensor, retain_graph: bool = False) -> None:
        """Fill every recording's state gradients from ``loss``; see :func:`backward_to_states`."""
        backward_to_states(loss, self.recordings, retain_graph)

    @property
    def note(self) -> str:
        """Why another engine ran than the one requested, or "" when none was replaced."""
        return "; ".join(self.notes)

    def __len__(self) -> int:
        return len(self.recordings)

    def __iter__(self):
        return iter(self.recordings)

    def __getitem__(self, index: int) -> Recording:
        return self.recordings[index]


def backward_to_states(loss: torch.Tensor, recordings: list, retain_graph: bool = False) -> None:
    """Fill the state gradients of ``recordings`` from ``loss`` without touching any ``.grad``.

    One ``torch.autograd.grad`` to the recorded cells' parameters (and inputs) that require
    a gradient; the engines store dL/dh_t as it passes. ``retain_graph=True`` keeps the
    graph for a later backward of ``loss`` (or of a sum that holds it).
    """
    targets, seen = [], set()
    for rec in recordings:
        for t in (*rec.cell.parameters(), rec.inputs):
            if t.requires_grad and id(t) not in seen:
                seen.add(id(t))
                targets.append(t)
    if not targets:
        raise ValueError(f"backward_to_states: expected recordings with a parameter or input that requires a "
                         f"gradient, got {len(recordings)} recordings with none (was the forward run under "
                         "torch.no_grad()?)")
    torch.autograd.grad(loss, targets, retain_graph=retain_graph, allow_unused=True)


def hold_after_end(stack: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """``stack`` (T+1, B, S) of h_0 .. h_T with every state past a sequence's end set to its final state."""
    if lengths is None:
        return stack
    L = lengths.to(stack.device)
    ones = [1] * (stack.dim() - 2)  # the state's feature dims
    final = stack.gather(0, L.view(1, -1, *ones).expand(1, *stack.shape[1:]))  # (1, B, S): h_{len_b}
    past_end = (torch.arange(stack.shape[0], device=stack.device).unsqueeze(1) > L).view(*stack.shape[:2], *ones)
    return torch.where(past_end, final, stack)  # past_end (T+1, B, 1): t > len_b

