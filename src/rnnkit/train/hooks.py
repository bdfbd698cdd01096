"""The Trainer's hook protocol: named objects called at named events of the training loop.

A hook is any object with a ``name`` (unique per Trainer) and any of these methods; a
missing one means "nothing to do at that event" (:class:`Hook` provides them all)::

    on_attach(trainer)          when trainer.add_hook(hook) adds it: validate, register tensor hooks
    around_forward(trainer)     a context manager entered around each training forward pass
    objective(trainer, loss)    a scalar tensor added to the loss before backward, or None
    on_step_end(trainer)        after each optimizer step
    on_eval_end(trainer)        after each validation

The Trainer calls the hooks in the order they were added. Its own loop knows no hook
by name: the vanishing-gradient penalty (:mod:`rnnkit.train.penalty`) and the training
monitor (``rnnkit.diagnostics.TrainingMonitor``) are hooks like any other.
:class:`Callback` wraps a plain function ``fn(trainer)`` for one event
(``trainer.add_callback("on_step_end", fn)``).
"""
from __future__ import annotations

from contextlib import ExitStack, contextmanager, nullcontext
from typing import Iterator

import torch

EVENTS = ("on_attach", "around_forward", "objective", "on_step_end", "on_eval_end")
CALLBACK_EVENTS = ("on_step_end", "on_eval_end")  # the events add_callback accepts


class Hook:
    """Base class of Trainer hooks: every event does nothing; override the ones you need."""

    name = "hook"

    def on_attach(self, trainer) -> None:
        """Called once, when the hook is added to ``trainer``."""

    def around_forward(self, trainer):
        """A context manager around the training forward pass (the loss is computed after it exits)."""
        return nullcontext()

    def objective(self, trainer, loss: torch.Tensor) -> torch.Tensor | None:
        """An extra scalar term of the objective that is backpropagated, or None."""
        return None

    def on_step_end(self, trainer) -> None:
        """After each optimizer step."""

    def on_eval_end(self, trainer) -> None:
        """After each validation."""


class Callback(Hook):
    """A plain function ``fn(trainer)`` called at one event, ``"on_step_end"`` or ``"on_eval_end"``."""

    def __init__(self, event: str, fn, name: str) -> None:
        if event not in CALLBACK_EVENTS:
            raise ValueError(f"Trainer.add_callback: expected event to be one of {', '.join(CALLBACK_EVENTS)}, "
                             f"got {event!r}")
        if not callable(fn):
            raise TypeError(f"Trainer.add_callback: expected fn to be a callable fn(trainer), got {type(fn).__name__}")
        self.name, self.event, self.fn = name, event, fn

    def on_step_end(self, trainer) -> None:
        if self.event == "on_step_end":
            self.fn(trainer)

    def on_eval_end(self, trainer) -> None:
        if self.event == "on_eval_end":
            self.fn(trainer)


class Hooks:
    """The hooks of one Trainer, by name, in the order they were added; fires their events."""

    def __init__(self) -> None:
        self.by_name: dict[str, object] = {}

    def add(self, hook, trainer) -> None:
        name = getattr(hook, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"Trainer.add_hook: expected a hook with a non-empty str name, "
                            f"got {type(hook).__name__} with name {name!r}")
        if name in self.by_name:
            raise ValueError(f"Trainer.add_hook: expected a new hook name, got {name!r}, which is already added")
        if not any(callable(getattr(hook, event, None)) for event in EVENTS):
            raise TypeError(f"Trainer.add_hook: expected a hook with at least one of {', '.join(EVENTS)}, "
                            f"got {type(hook).__name__} with none")
        self.by_name[name] = hook
        if callable(getattr(hook, "on_attach", None)):
            hook.on_attach(trainer)

    def fire(self, event: str, trainer) -> None:
        """Call ``event(trainer)`` on every hook that has it."""
        for hook in list(self.by_name.values()):
            fn = getattr(hook, event, None)
            if callable(fn):
                fn(trainer)

    @contextmanager
    def around_forward(self, trainer) -> Iterator[None]:
        """Every hook's ``around_forward``, nested in the order the hooks were added."""
        with ExitStack() as stack:
            for hook in self.by_name.values():
                fn = getattr(hook, "around_forward", None)
                if callable(fn):
                    stack.enter_context(fn(trainer))
            yield

    def objective(self, trainer, loss: torch.Tensor) -> torch.Tensor:
        """``loss`` plus every hook's extra term."""
        total = loss
        for hook in self.by_name.values():
            fn = getattr(hook, "objective", None)
            term = fn(trainer, loss) if callable(fn) else None
            if term is not None:
                total = total + term
        return total

    def __contains__(self, name: str) -> bool:
        return name in self.by_name

    def __getitem__(self, name: str):
        return self.by_name[name]

    def __len__(self) -> int:
        return len(self.by_name)
