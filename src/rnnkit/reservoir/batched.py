r"""Many reservoirs of one size driven together over the same input series.

R configurations that share a seed, size and connectivity share their random draws
(:func:`~rnnkit.reservoir.reservoir.raw_draw`); their spectral radii and input and bias
scalings only multiply them. So each group's recurrent products are one matrix product
per step, ``W_raw @ H`` with the group's states as the columns of H (N, R_g), scaled per
column, instead of R matrix-vector products: the raw W (dense, or CSR with
``storage="sparse"``) is read once a step for the whole group. For each column r:

.. math::
    x^{(r)}_t = (1 - a_r)\, x^{(r)}_{t-1} + a_r \tanh\big(c_r W_{raw} x^{(r)}_{t-1}
                + s_r U_{in} u_t + \beta_r U_b\big), \qquad c_r = \rho_r / \rho(W_{raw})

which is :class:`~rnnkit.reservoir.Reservoir`'s step with its own scaled weights (the
R = 1 case gives the same numbers to rounding, tests/reservoir/test_batched.py).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from rnnkit._checks import check_choice
from rnnkit.kernels import fused
from rnnkit.reservoir.config import ReservoirConfig
from rnnkit.reservoir.reservoir import _ACT_, RawDraw, raw_draw


KERNEL = "reservoir_group"  # the compiled loop for groups with a CSR W (falls back to torch ops without it)
ACTIVATIONS = {"tanh": 0, "identity": 1, "relu": 2}  # the kernel's codes
SPARSE_BELOW = 0.25  # connectivity at or below which a CSR W multiplies the group's states faster
# Measured (500 units, float64, 2 threads, 25 columns): dense 444 us a step, CSR at 10 % connectivity 150 us.


def _storage(config: ReservoirConfig) -> str:
    return "sparse" if config.connectivity <= SPARSE_BELOW else "dense"


@dataclass
class _Group:
    """The configurations that share one raw draw, and their per-column factors."""

    members: list  # indices into the BatchedReservoir's configs
    w: torch.Tensor  # raw W (N, N), dense or CSR
    u_in: torch.Tensor  # (N, I)
    u_b: torch.Tensor  # (N, 1)
    radius_scale: torch.Tensor  # (1, R_g): c_r = rho_r / rho(W_raw)
    input_scale: torch.Tensor  # (1, R_g): s_r
    bias_scale: torch.Tensor  # (1, R_g): beta_r
    leak: torch.Tensor  # (1, R_g): a_r


class BatchedReservoir:
    """R frozen reservoirs of the same size and activation, run together over one input series.

    Args:
        input_size: I, input features (no output feedback here).
        configs: the R :class:`ReservoirConfig` (same ``units`` and ``activation``; any
            spectral radius, leak rate, input and bias scaling, connectivity, seed, storage).
        dtype, device: of the computation (float64 by default, like :class:`~rnnkit.reservoir.ESN`).
        storage: of each group's raw W: ``"auto"`` (sparse CSR at connectivity <= SPARSE_BELOW, else
            dense), ``"dense"``, ``"sparse"`` or ``"config"`` (each config's own). The numbers are the same.

    ``run(u, states)`` -> states (T, R, N) and the last states (R, N).
    """

    def __init__(self, input_size: int, configs, *, dtype: torch.dtype = torch.float64, device=None,
                 storage: str = "auto") -> None:
        check_choice("BatchedReservoir", "storage", storage, ("auto", "dense", "sparse", "config"))
        configs = list(configs)
        if not configs or not all(isinstance(c, ReservoirConfig) for c in configs):
            raise TypeError("BatchedReservoir: expected configs to be a non-empty sequence of ReservoirConfig")
        first = configs[0]
        for c in configs:
            if (c.units, c.activation) != (first.units, first.activation):
                raise ValueError(f"BatchedReservoir: expected every config with units={first.units} and "
                                 f"activation={first.activation!r}, got units={c.units}, activation={c.activation!r}")
            if c.feedback_scaling:
                raise ValueError("BatchedReservoir: expected feedback_scaling=0 (output feedback is not batched), "
                                 f"got {c.feedback_scaling}")
        self.configs, self.input_size, self.units = configs, input_size, first.units
        self.dtype, self.device = dtype, torch.device("cpu") if device is None else torch.device(device)
        self._act = _ACT_[first.activation]
        raws: dict[tuple, tuple[RawDraw, list]] = {}
        for r, c in enumerate(configs):
            kind = {"auto": _storage(c), "config": c.storage}.get(storage, storage)
            key = (c.seed, c.connectivity, kind)
            if key not in raws:
                raws[key] = (raw_draw(c, input_size), [])
            raws[key][1].append(r)
        self.groups = [self._group(raw, members, kind) for (_, _, kind), (raw, members) in raws.items()]

    def _group(self, raw: RawDraw, members: list, storage: str) -> _Group:
        factory = {"dtype": self.dtype, "device": self.device}
        row = lambda values: torch.tensor([values], **factory)  # (1, R_g)
        cs = [self.configs[r] for r in members]
        w = raw.w.to(**factory)
        if storage == "sparse":
            with warnings.catch_warnings():  # torch calls sparse CSR "beta"; the ops used here are tested
                warnings.simplefilter("ignore", UserWarning)
                w = w.to_sparse_csr()
        return _Group(members, w, raw.u_in.to(**factory), raw.u_b.to(**factory).unsqueeze(1),
                      row([c.spectral_radius / raw.radius for c in cs]), row([c.input_scaling for c in cs]),
                      row([c.bias_scaling for c in cs]), row([c.leak_rate for c in cs]))

    def __len__(self) -> int:
        return len(self.configs)

    def init_states(self) -> torch.Tensor:
        """Zero states (R, N)."""
        return torch.zeros(len(self.configs), self.units, dtype=self.dtype, device=self.device)

    @torch.no_grad()
    def run(self, u: torch.Tensor, states: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Drive every reservoir with ``u`` (T, I) from ``states`` (R, N) (zeros if None).

        Returns every state (T, R, N) and the last ones (R, N).
        """
        if not isinstance(u, torch.Tensor) or u.dim() != 2 or u.shape[1] != self.input_size:
            raise ValueError(f"BatchedReservoir.run: expected u of shape (T, {self.input_size}), got "
                             f"{tuple(u.shape) if isinstance(u, torch.Tensor) else type(u).__name__}")
        R, N = len(self.configs), self.units
        if states is None:
            states = self.init_states()
        if tuple(states.shape) != (R, N):
            raise ValueError(f"BatchedReservoir.run: expected states of shape ({R}, {N}), got {tuple(states.shape)}")
        u = u.to(dtype=self.dtype, device=self.device)
        out = torch.empty(u.shape[0], R, N, dtype=self.dtype, device=self.device)  # (T, R, N)
        last = torch.empty_like(states)
        for g in self.groups:
            index = torch.tensor(g.members, device=self.device)
            h = states.index_select(0, index).t().contiguous()  # (N, R_g): one column per reservoir
            states_g = self._run_group(g, u, h)  # (T, N, R_g)
            out.index_copy_(1, index, states_g.transpose(1, 2))
            last.index_copy_(0, index, states_g[-1].t())
        return out, last

    def _run_group(self, g: _Group, u: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """States (T, N, R_g) of one group from h (N, R_g)."""
        T = u.shape[0]
        drive_in = u @ g.u_in.t()  # (T, N): U_in u_t for every t
        out = torch.empty(T, *h.shape, dtype=h.dtype, device=h.device)  # (T, N, R_g)
        if g.w.layout == torch.sparse_csr and h.device.type == "cpu" and fused.missing(KERNEL) is None:
            # the compiled loop: every step in one call (kernels/fused/reservoir_group.cpp)
            # columns padded to whole vectors (4 doubles / 8 floats with AVX2) with idle reservoirs (all
            # factors 0: their state stays 0), so the kernel's vector loads never take the partial path
            R_g = h.shape[1]
            pad = -R_g % (32 // h.element_size())
            flat = lambda v: torch.nn.functional.pad(v.reshape(-1), (0, pad)).contiguous()
            padded = torch.empty(T, h.shape[0], R_g + pad, dtype=h.dtype, device=h.device)
            fused.load(KERNEL).run(g.w.crow_indices().long().contiguous(), g.w.col_indices().long().contiguous(),
                                   g.w.values().contiguous(), drive_in.contiguous(), g.u_b.reshape(-1).contiguous(),
                                   flat(g.radius_scale), flat(g.input_scale), flat(g.bias_scale), flat(g.leak),
                                   torch.nn.functional.pad(h, (0, pad)).contiguous(), padded,
                                   ACTIVATIONS[self.configs[0].activation])
            return padded[:, :, :R_g] if pad else padded
        bias = g.u_b * g.bias_scale  # (N, R_g)
        leaky = bool((g.leak != 1.0).any())
        for t in range(T):
            pre = out[t]
            torch.mm(g.w, h, out=pre) if g.w.layout == torch.strided else pre.copy_(torch.sparse.mm(g.w, h))
            pre.mul_(g.radius_scale).add_(bias).addcmul_(drive_in[t].unsqueeze(1), g.input_scale)
            self._act(pre)  # f(c W h + s U_in u + beta U_b), in place
            if leaky:
                pre.sub_(h).mul_(g.leak).add_(h)  # h + a (f - h) = (1 - a) h + a f
            h = pre
        return out
