r"""The echo state network: a frozen reservoir and a trained linear readout."""
from __future__ import annotations

import numbers

import numpy as np
import torch
from torch import nn

from rnnkit._checks import check_bool, check_size
from rnnkit.reservoir.config import ReservoirConfig
from rnnkit.reservoir.readouts import RLS, Ridge
from rnnkit.reservoir.reservoir import Reservoir


class ESN(nn.Module):
    r"""Echo state network (Jaeger 2001): only the linear readout is trained.

    .. math::
        x_t = (1 - a) x_{t-1} + a f(W_{in} u_t + W_{fb} y_{t-1} + W x_{t-1} + b),\qquad
        y_t = W_{out} [x_t; u_t] + c

    ``fit`` drives the reservoir with the inputs (teacher forcing: with ``feedback``,
    ``y_{t-1}`` is the *target* of the previous step), drops the first ``warmup`` steps
    of every series, and fits the readout on the remaining states (ridge regression in
    float64 by default). ``fit_online`` trains an :class:`RLS` readout step by step
    instead (FORCE). ``predict`` drives it with new inputs (feeding back its own
    outputs). ``generate`` runs closed loop: each output becomes the next input.

    Input and output widths are taken from the first ``fit``; later calls must match.

    Args:
        reservoir: a :class:`ReservoirConfig`.
        readout: a :class:`Ridge` (default ``Ridge(1e-8)``) or :class:`RLS`.
        feedback: feed the previous output back into the reservoir through ``W_fb``
            (needs ``reservoir.feedback_scaling > 0``).
        include_input: append ``u_t`` to the readout's features.
        input_noise: standard deviation of Gaussian noise added to the inputs (and fed-back
            targets) during ``fit`` only; it makes closed-loop generation more stable.
        dtype, device: where the reservoir runs (float64 by default, like the readout).

    Shapes: ``X`` (T, B, I) or one series (T, I); ``Y`` (T, B, O) or (T, O); outputs
    follow the input's form. Batches hold independent series that share the readout.

    Example::

        >>> esn = ESN(ReservoirConfig(units=200, spectral_radius=0.9, leak_rate=0.5))
        >>> esn.fit(x[:-1], x[1:], warmup=100)          # x (T, 1): predict the next value
        >>> future = esn.generate(50, warmup=x[-200:])   # (50, 1)
    """

    def __init__(self, reservoir: ReservoirConfig | None = None, readout: Ridge | RLS | None = None, *,
                 feedback: bool = False, include_input: bool = True, input_noise: float = 0.0,
                 dtype: torch.dtype = torch.float64, device=None) -> None:
        super().__init__()
        self.config = ReservoirConfig() if reservoir is None else reservoir
        if not isinstance(self.config, ReservoirConfig):
            raise TypeError(f"ESN: expected reservoir to be a ReservoirConfig, got {type(self.config).__name__}")
        self.readout = Ridge() if readout is None else readout
        if not isinstance(self.readout, (Ridge, RLS)):
            raise TypeError(f"ESN: expected readout to be a Ridge or RLS, got {type(self.readout).__name__}")
        self.feedback = check_bool("ESN", "feedback", feedback)
        if self.feedback and self.config.feedback_scaling == 0:
            raise ValueError("ESN: feedback=True needs reservoir.feedback_scaling > 0, got 0.0")
        self.include_input = check_bool("ESN", "include_input", include_input)
        if isinstance(input_noise, bool) or not isinstance(input_noise, numbers.Real) or not input_noise >= 0:
            raise ValueError(f"ESN: expected input_noise >= 0, got {input_noise!r}")
        self.input_noise = float(input_noise)
        self.dtype, self.device = dtype, torch.device("cpu") if device is None else torch.device(device)
        self.reservoir: Reservoir | None = None  # built by the first fit, when the widths are known
        self.input_size: int | None = None
        self.output_size: int | None = None
        self.state: torch.Tensor | None = None  # reservoir state after the last input seen, (B, N)
        self.last_output: torch.Tensor | None = None  # the output for that input, (B, O)
        self._single = False  # the last fit/predict got one (T, F) series: generate drops the batch dim
        self._last_single = False  # the same, for the data being validated

    # -- inputs ----------------------------------------------------------------------
    def _series(self, owner: str, name: str, value) -> tuple[torch.Tensor, bool]:
        """``value`` as (T, B, F) in the ESN's dtype and device, and whether it was one (T, F) series."""
        if isinstance(value, np.ndarray):
            value = torch.from_numpy(value)
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{owner}: expected {name} to be a torch.Tensor or numpy array, got {type(value).__name__}")
        if value.dim() not in (2, 3):
            raise ValueError(f"{owner}: expected {name} with 2 dims (T, F) or 3 dims (T, B, F), "
                             f"got shape {tuple(value.shape)}")
        if value.shape[0] == 0:
            raise ValueError(f"{owner}: expected {name} with at least one time step, got shape {tuple(value.shape)}")
        bad = ~torch.isfinite(value)
        if bool(bad.any()):
            t, b = (int(i) for i in bad.nonzero()[0][:2]) if value.dim() == 3 else (int(bad.nonzero()[0][0]), 0)
            raise ValueError(f"{owner}: {name} contains NaN or inf (first at time step {t}, series {b}); "
                             "clean or interpolate the data first")
        single = value.dim() == 2
        value = value.unsqueeze(1) if single else value  # (T, F) -> (T, 1, F)
        return value.to(device=self.device, dtype=self.dtype), single

    def _build(self, I: int, O: int) -> None:
        self.input_size, self.output_size = I, O
        self.reservoir = Reservoir(I, self.config, feedback_size=O if self.feedback else 0,
                                   device=self.device, dtype=self.dtype)

    def _features(self, states: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Readout features ``[x_t; u_t]`` (..., N + I), or ``x_t`` without ``include_input``."""
        return torch.cat([states, u], dim=-1) if self.include_input else states

    def _fitted(self, owner: str) -> None:
        if self.reservoir is None or not self.readout.fitted:
            raise RuntimeError(f"{owner}: the ESN is not fitted yet; call fit(X, Y) first")

    # -- training --------------------------------------------------------------------
    def _check_fit(self, owner: str, X, Y, warmup) -> tuple[torch.Tensor, torch.Tensor, int]:
        """Validate training data (building the reservoir on the first call): X, Y as (T, B, F), warmup."""
        X, single_x = self._series(owner, "X", X)
        Y, single_y = self._series(owner, "Y", Y)
        if X.shape[:2] != Y.shape[:2] or single_x != single_y:
            raise ValueError(f"{owner}: expected X and Y with the same number of time steps and series, got X of "
                             f"shape {tuple(X.shape[:2])} and Y of shape {tuple(Y.shape[:2])} (T, B)")
        T = X.shape[0]
        warmup = check_size(owner, "warmup", warmup, minimum=0)
        if warmup >= T:
            raise ValueError(f"{owner}: expected warmup < T={T} (the series length), got warmup={warmup}")
        I, O = X.shape[2], Y.shape[2]
        if self.reservoir is None:
            self._build(I, O)
        elif (I, O) != (self.input_size, self.output_size):
            raise ValueError(f"{owner}: this ESN was fitted on X with {self.input_size} features and Y with "
                             f"{self.output_size}; got X with {I} and Y with {O} (make a new ESN for other widths)")
        self._last_single = single_x
        return X, Y, warmup

    @torch.no_grad()
    def fit(self, X, Y, warmup: int = 0) -> "ESN":
        """Train the readout to map ``X`` (T, B, I) to ``Y`` (T, B, O); returns ``self``.

        The first ``warmup`` steps of each series only settle the reservoir (< T).
        """
        owner = "ESN.fit"
        X, Y, warmup = self._check_fit(owner, X, Y, warmup)
        T, B, I = X.shape
        O = Y.shape[2]
        drive = X
        if self.feedback:
            y_prev = torch.cat([torch.zeros_like(Y[:1]), Y[:-1]])  # teacher forcing: y_{t-1}, (T, B, O)
            drive = torch.cat([X, y_prev], dim=2)  # (T, B, I + O)
        if self.input_noise:
            gen = torch.Generator(device=self.device).manual_seed(self.config.seed + 1)
            drive = drive + self.input_noise * torch.randn(drive.shape, generator=gen, device=self.device,
                                                           dtype=self.dtype)
        states, self.state = self.reservoir.run(drive, None)  # (T, B, N), (B, N)
        Z = self._features(states[warmup:], drive[warmup:, :, :I])  # (T - warmup, B, D)
        M = (T - warmup) * B
        self.readout.fit(Z.reshape(M, -1), Y[warmup:].reshape(M, O))  # rows: (time, series) flattened
        self.last_output = self.readout(Z[-1])  # (B, O)
        self._single = self._last_single
        return self

    @torch.no_grad()
    def fit_online(self, X, Y, warmup: int = 0) -> "ESN":
        """FORCE learning (Sussillo & Abbott 2009): an :class:`RLS` readout updated at every step.

        Steps through ``X`` (T, B, I); from step ``warmup`` on, after each step the readout
        takes one RLS update per series towards ``Y[t]``. With ``feedback`` the ESN feeds
        back its *own* (just updated) output, not the target: the readout learns while
        the loop is closed, which is what makes FORCE-trained generators stable.
        Without feedback the result equals an offline ``RLS.fit`` on the same states.
        """
        owner = "ESN.fit_online"
        if not isinstance(self.readout, RLS):
            raise TypeError(f"{owner}: needs an RLS readout, got {type(self.readout).__name__}")
        X, Y, warmup = self._check_fit(owner, X, Y, warmup)
        T, B, I = X.shape
        self.state = self.reservoir.init_state(B, self.device, self.dtype)
        self.last_output = torch.zeros(B, self.output_size, device=self.device, dtype=self.dtype)
        self.readout.start(self.reservoir.hidden_size + (I if self.include_input else 0), self.output_size,
                           self.device)
        for t in range(T):
            self._step(X[t])  # advances the state; the output is refreshed below
            z = self._features(self.state, X[t])  # (B, D)
            if t >= warmup:
                for b in range(B):
                    self.readout.update(z[b], Y[t, b])
            self.last_output = self.readout(z)  # (B, O), fed back at the next step
        self._single = self._last_single
        return self

    # -- inference -------------------------------------------------------------------
    def _step(self, u: torch.Tensor) -> torch.Tensor:
        """One closed-loop step from the stored state: input ``u`` (B, I) -> output (B, O)."""
        x = torch.cat([u, self.last_output], dim=1) if self.feedback else u  # (B, I [+ O])
        self.state, _ = self.reservoir.step(x, self.state)
        self.last_output = self.readout(self._features(self.state, u))
        return self.last_output

    @torch.no_grad()
    def predict(self, X, reset: bool = True) -> torch.Tensor:
        """Outputs for inputs ``X`` (T, B, I) or (T, I); ``(T, B, O)`` or ``(T, O)``.

        ``reset=True`` starts from the zero state; ``False`` continues from the state
        left by the last ``fit``/``predict``/``generate``. With feedback, the outputs fed
        back are the ESN's own.
        """
        owner = "ESN.predict"
        self._fitted(owner)
        X, single = self._series(owner, "X", X)
        T, B, I = X.shape
        if I != self.input_size:
            raise ValueError(f"{owner}: expected X with {self.input_size} features (as in fit), got {I}")
        if reset or self.state is None or self.state.shape[0] != B:
            if not reset:
                raise ValueError(f"{owner}: reset=False needs the stored state's batch size "
                                 f"{None if self.state is None else self.state.shape[0]}, got X with {B} series")
            self.state = self.reservoir.init_state(B, self.device, self.dtype)
            self.last_output = torch.zeros(B, self.output_size, device=self.device, dtype=self.dtype)
        if self.feedback:  # the output enters the next step: go step by step
            out = torch.stack([self._step(X[t]) for t in range(T)])  # (T, B, O)
        else:
            states, self.state = self.reservoir.run(X, self.state)  # (T, B, N)
            out = self.readout(self._features(states, X))  # (T, B, O)
            self.last_output = out[-1]
        self._single = single
        return out[:, 0] if single else out

    @torch.no_grad()
    def generate(self, n_steps: int, warmup=None) -> torch.Tensor:
        """Run closed loop for ``n_steps``: each output is fed back as the next input.

        Starts from the state left by the last call, or first runs ``predict(warmup)``
        (teacher forcing on a context ``warmup`` (L, B, I)). ``out[0]`` is the output
        for the last input seen (the prediction of the next value); ``out[k]`` follows
        after feeding ``out[k-1]`` back. Needs ``input_size == output_size``.

        Returns ``(n_steps, B, O)``, or ``(n_steps, O)`` when the last data given to
        ``fit``/``predict`` (or ``warmup``) was one (T, F) series.
        """
        owner = "ESN.generate"
        self._fitted(owner)
        n_steps = check_size(owner, "n_steps", n_steps)
        if self.input_size != self.output_size:
            raise ValueError(f"{owner}: closed-loop generation feeds outputs back as inputs, so it needs "
                             f"input_size == output_size; got {self.input_size} and {self.output_size}")
        if warmup is not None:
            self.predict(warmup, reset=True)
        outs = [self.last_output]
        for _ in range(n_steps - 1):
            outs.append(self._step(outs[-1]))
        out = torch.stack(outs)  # (n_steps, B, O)
        return out[:, 0] if self._single else out

    def extra_repr(self) -> str:
        return (f"input_size={self.input_size}, output_size={self.output_size}, feedback={self.feedback}, "
                f"include_input={self.include_input}, input_noise={self.input_noise}")
