r"""The reservoir: a fixed random leaky recurrent layer, written as a :class:`~rnnkit.cells.Cell`."""
from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rnnkit import init as rinit
from rnnkit._checks import check_bool, check_like, check_memory, check_size, check_tensor
from rnnkit.cells.base import Cell
from rnnkit.kernels import reference
from rnnkit.reservoir.config import ReservoirConfig

_ACT = {"tanh": torch.tanh, "relu": torch.relu, "identity": lambda v: v}
_ACT_ = {"tanh": torch.Tensor.tanh_, "relu": torch.Tensor.relu_, "identity": lambda v: v}  # in place
# Below this many multiply-adds per step, the loop runs on one intra-op thread: every op of a
# step is a parallel region, and when another process holds a core each region waits for a
# time slice. Measured on 2 shared cores, 10,000 steps at 10% connectivity: 500 units ran
# 3-4x slower with 2 threads than with 1; 2,000 units (400k multiply-adds a step) ran 2.5x
# faster with 2 threads in one run and 3x slower in another, as the other core's load changed.
_SINGLE_THREAD_WORK = 1 << 21


@contextlib.contextmanager
def _at_most_threads(n: int):
    """Run the block with at most ``n`` torch intra-op threads, then restore the setting."""
    old = torch.get_num_threads()
    if old <= n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


@dataclass(frozen=True)
class RawDraw:
    """A reservoir's random draws before scaling: what every config with the same seed, sizes and
    connectivity shares (the scalings only multiply them)."""

    w: torch.Tensor  # (N, N) U(-1, 1) entries, a fraction `connectivity` of them nonzero
    radius: float  # the spectral radius of w
    u_in: torch.Tensor  # (N, I) U(-1, 1)
    u_fb: torch.Tensor  # (N, F) U(-1, 1)
    u_b: torch.Tensor  # (N,) U(-1, 1)


def raw_draw(config: ReservoirConfig, input_size: int, feedback_size: int = 0) -> RawDraw:
    """The unscaled draws of ``config``'s reservoir, in float64 on the CPU, from ``config.seed``."""
    N = config.units
    check_memory("Reservoir", f"units={N}: drawing its {N} x {N} recurrent matrix (float64, with its mask and "
                 f"spectral radius)", 5 * 8 * N * N)
    gen = torch.Generator().manual_seed(config.seed)
    uniform = lambda *shape: torch.rand(*shape, generator=gen, dtype=torch.float64) * 2 - 1  # U(-1, 1)
    w = uniform(N, N) * (torch.rand(N, N, generator=gen, dtype=torch.float64) < config.connectivity)  # (N, N)
    rho = rinit.spectral_radius(w)
    if rho == 0.0:
        raise ValueError(f"Reservoir: the random W has spectral radius 0 (units={N}, "
                         f"connectivity={config.connectivity}); raise connectivity or units, or change seed")
    return RawDraw(w, rho, uniform(N, input_size), uniform(N, feedback_size), uniform(N))


def scaled(raw: RawDraw, config: ReservoirConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(W_in | W_fb (N, I + F), W (N, N) at ``config.spectral_radius``, b (N,)) from the raw draws."""
    w = raw.w * (config.spectral_radius / raw.radius)
    w_in, w_fb = raw.u_in * config.input_scaling, raw.u_fb * config.feedback_scaling
    return torch.cat([w_in, w_fb], dim=1), w, raw.u_b * config.bias_scaling


class Reservoir(Cell):
    r"""A leaky echo-state reservoir (Jaeger 2001; leaky units after Jaeger et al. 2007).

    .. math::
        x_t = (1 - a)\, x_{t-1} + a\, f\big(W_{in} u_t + W_{fb}\, y_{t-1} + W x_{t-1} + b\big),
        \qquad \text{output} = x_t

    ``W`` is random with a fraction ``connectivity`` of nonzero entries ~ U(-1, 1), then
    rescaled so its spectral radius is ``config.spectral_radius``; ``W_in``, ``W_fb`` and
    ``b`` are ~ U(-s, s) with their scalings. All are drawn on the CPU in float64 from
    ``config.seed``, so a config gives the same reservoir on every device.

    As a cell, the step's input is the concatenation ``[u_t, y_{t-1}]`` of the ``I``
    external inputs and, when ``feedback_size = F > 0``, the ``F`` fed-back outputs
    (teacher-forced in training, the model's own outputs when generating); the cell's
    ``input_size`` is therefore ``I + F`` and ``weight_ih = [W_in, W_fb]``.

    The reservoir is frozen (``requires_grad=False``) unless ``trainable=True``: then it
    is an ordinary cell that :class:`rnnkit.Recurrent` runs on the reference engine and
    autograd trains (dense storage only).

    Args:
        input_size: I, external input features.
        config: a :class:`ReservoirConfig` (units, spectral radius, leak rate, ...).
        feedback_size: F, fed-back output features (0: no feedback).
        trainable: let autograd train the weights.

    Shapes: step input (B, I + F); state and output (B, N) with N = ``config.units``.

    Attributes:
        weight_ih (N, I + F), weight_hh (N, N) (a sparse CSR buffer with
        ``storage="sparse"``), bias (N,).

    Example::

        >>> res = Reservoir(1, ReservoirConfig(units=100, spectral_radius=0.9, leak_rate=0.3))
        >>> states, last = res.run(torch.randn(50, 4, 1))   # states (50, 4, 100), last (4, 100)
    """

    def __init__(self, input_size: int, config: ReservoirConfig | None = None, *, feedback_size: int = 0,
                 trainable: bool = False, device=None, dtype=None) -> None:
        config = ReservoirConfig() if config is None else config
        if not isinstance(config, ReservoirConfig):
            raise TypeError(f"Reservoir: expected config to be a ReservoirConfig, got {type(config).__name__}")
        owner = "Reservoir"
        I = check_size(owner, "input_size", input_size)
        F_ = check_size(owner, "feedback_size", feedback_size, minimum=0)
        if F_ and config.feedback_scaling == 0:
            raise ValueError(f"Reservoir: feedback_size={F_} needs config.feedback_scaling > 0, got 0.0")
        super().__init__(I + F_, config.units)
        self.config = config
        self.external_size = I
        self.feedback_size = F_
        self.trainable = check_bool(owner, "trainable", trainable)
        if self.trainable and config.storage == "sparse":
            raise ValueError("Reservoir: trainable=True needs storage='dense' (sparse weights are frozen), "
                             "got storage='sparse'")
        w_ih, w_hh, b = self._draw()
        factory = {"device": device, "dtype": dtype if dtype is not None else torch.get_default_dtype()}
        self.weight_ih = nn.Parameter(w_ih.to(**factory), requires_grad=self.trainable)
        self.bias = nn.Parameter(b.to(**factory), requires_grad=self.trainable)
        if config.storage == "dense":
            self.weight_hh = nn.Parameter(w_hh.to(**factory), requires_grad=self.trainable)
        else:
            with warnings.catch_warnings():  # torch calls sparse CSR "beta"; the ops used here are tested
                warnings.simplefilter("ignore", UserWarning)
                csr = w_hh.to(**factory).to_sparse_csr()
                # int32 indices (as scipy uses) move a third less memory per step than int64
                self.register_buffer("weight_hh", torch.sparse_csr_tensor(
                    csr.crow_indices().int(), csr.col_indices().int(), csr.values(), csr.shape))

    def _draw(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Draw (W_in | W_fb, W, b) in float64 on the CPU from the config's seed."""
        return scaled(raw_draw(self.config, self.external_size, self.feedback_size), self.config)

    def reset_parameters(self) -> None:
        """Redraw the weights from the config (same seed, so the same weights)."""
        w_ih, w_hh, b = self._draw()
        with torch.no_grad():
            self.weight_ih.copy_(w_ih)
            self.bias.copy_(b)
            if self.config.storage == "dense":
                self.weight_hh.copy_(w_hh)

    def dense_weight_hh(self) -> torch.Tensor:
        """W as a dense (N, N) tensor, whatever the storage."""
        w = self.weight_hh
        return w.to_dense() if w.layout != torch.strided else w

    def spectral_radius(self) -> float:
        """The largest eigenvalue modulus of W (equals ``config.spectral_radius`` up to rounding)."""
        return rinit.spectral_radius(self.dense_weight_hh())

    def _recurrent(self, h: torch.Tensor) -> torch.Tensor:
        """W h for a batch of states: (B, N) -> (B, N)."""
        if self.config.storage == "dense":
            return F.linear(h, self.weight_hh)
        return torch.sparse.mm(self.weight_hh, h.t()).t()  # (N, N) @ (N, B) -> (N, B) -> (B, N)

    def step(self, x_t: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pre = F.linear(x_t, self.weight_ih, self.bias) + self._recurrent(h)  # (B, N)
        a = self.config.leak_rate
        act = _ACT[self.config.activation](pre)
        h_new = act if a == 1.0 else (1.0 - a) * h + a * act
        return h_new, h_new

    def run(self, x: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the whole sequence ``x`` (T, B, I + F) from ``state`` (B, N) (zeros if None).

        Returns ``(states (T, B, N), final (B, N))``. Without autograd this uses the
        reservoir's own fast loop (:meth:`_run_fast`: one input projection for all steps,
        in-place updates); with gradients required it runs the reference engine. Both
        give the same numbers (``tests/reservoir/test_reservoir.py``).

        The fast loop is not an engine of :mod:`rnnkit.kernels`: it serves this cell only,
        forward only (no autograd, no ``lengths``, no ``reverse``), and returns every state
        rather than the engine contract's outputs. A reservoir inside a
        :class:`rnnkit.Recurrent` runs on the registered engines like any other cell. On the CPU,
        when a step is small (fewer than 2**21 multiply-adds) the fast loop runs on one
        torch thread (restoring the setting afterwards): thread wake-ups would cost more
        than the step.
        """
        owner = "Reservoir.run"
        check_tensor(owner, "x", x)
        if x.dim() != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"{owner}: expected x of shape (T, B, {self.input_size}), got {tuple(x.shape)}")
        check_like(owner, "x", x, self.weight_ih, "the reservoir's weights")
        B = x.shape[1]
        if state is None:
            state = self.init_state(B, x.device, x.dtype)
        check_tensor(owner, "state", state)
        if tuple(state.shape) != (B, self.hidden_size):
            raise ValueError(f"{owner}: expected state of shape ({B}, {self.hidden_size}), got {tuple(state.shape)}")
        check_like(owner, "state", state, x, "x")
        if torch.is_grad_enabled() and (x.requires_grad or state.requires_grad
                                        or any(p.requires_grad for p in self.parameters())):
            return reference.run(self, x, state)
        w = self.weight_hh
        work = (w._nnz() if w.layout != torch.strided else w.numel()) * B  # multiply-adds per step
        threads = 1 if work < _SINGLE_THREAD_WORK and x.device.type == "cpu" else torch.get_num_threads()
        with torch.no_grad(), _at_most_threads(threads):
            return self._run_fast(x, state)

    def _run_fast(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        T, B, _ = x.shape
        a = self.config.leak_rate
        act_ = _ACT_[self.config.activation]
        drive = F.linear(x, self.weight_ih, self.bias)  # W_in u_t + b for every t at once, (T, B, N)
        out = torch.empty_like(drive)  # (T, B, N)
        w = self.weight_hh  # (N, N), dense or CSR
        if B == 1:  # one series: matrix-vector products, the fastest path for both storages
            h = h[0]  # (N,)
            for t in range(T):
                h_new = out[t, 0]  # written in place: no allocation, no copy
                act_(torch.addmv(drive[t, 0], w, h, out=h_new))  # f(W h + W_in u_t + b), (N,)
                if a != 1.0:
                    h_new.lerp_(h, 1.0 - a)  # a f(...) + (1 - a) h, one pass
                h = h_new
            return out, h.unsqueeze(0).clone()
        if self.config.storage == "dense":
            w_t = w.t().contiguous()  # (N, N), so that h @ W^T reads rows
            for t in range(T):
                h_new = out[t]  # (B, N), written in place
                act_(torch.addmm(drive[t], h, w_t, out=h_new))
                if a != 1.0:
                    h_new.lerp_(h, 1.0 - a)  # a f(...) + (1 - a) h, one pass
                h = h_new
            return out, h.clone()
        drive_t = drive.transpose(1, 2).contiguous()  # (T, N, B): the state as columns for W @ H
        h_t = h.t().contiguous()  # (N, B)
        for t in range(T):
            pre = act_(torch.addmm(drive_t[t], w, h_t))  # (N, B)
            h_t = pre if a == 1.0 else pre.lerp_(h_t, 1.0 - a)
            out[t] = h_t.t()
        return out, h_t.t().contiguous()

    def extra_repr(self) -> str:
        c = self.config
        return (f"input_size={self.external_size}, units={c.units}, feedback_size={self.feedback_size}, "
                f"spectral_radius={c.spectral_radius}, leak_rate={c.leak_rate}, storage={c.storage!r}, "
                f"activation={c.activation!r}, trainable={self.trainable}")
