"""Equivalences every recurrent layer keeps, sampled by hypothesis over cells, shapes, lengths and layouts.

Each property runs two computations that must be the same function of the same weights, and compares
the outputs, the final state, and the gradients of the input, the initial state and every parameter
(by name) under one random output gradient, in float64 to 1e-10 of each tensor's scale (its largest
magnitude, at least 1: float64 rounding is relative, and a layer norm over 2-4 units can make gradients
of several hundred): every engine against the reference engine; a PackedSequence (sorted or not)
against the padded batch with ``lengths=``; batch_first against time-major; a bidirectional layer
against a forward layer and a reversed one on its weights; and a sequence run in two chunks, the state
carried, against the whole sequence.
"""
from dataclasses import dataclass, replace
from functools import lru_cache

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit
from rnnkit.kernels import fused

DT = torch.float64
TOL = 1e-10
# this module's own settings, no global profile; derandomize: the same examples on every run
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)
EACH_ENGINE = settings(SETTINGS, max_examples=20)  # properties 2-5, once per engine
KINDS = {
    "rnn-tanh": (rnnkit.RNN, {"nonlinearity": "tanh"}),
    "rnn-relu": (rnnkit.RNN, {"nonlinearity": "relu"}),
    "lstm": (rnnkit.LSTM, {}),
    "lstm-proj": (rnnkit.LSTM, {}),  # proj_size: the case's, drawn in [1, H - 1]
    "gru": (rnnkit.GRU, {}),
}
ENGINES = ("reference", "bptt", "fused", "native")


@dataclass(frozen=True)
class Case:
    kind: str
    input_size: int
    hidden_size: int
    proj_size: int
    num_layers: int
    bidirectional: bool
    batch_first: bool
    bias: bool
    layer_norm: bool
    steps: int  # T
    batch: int  # B
    lengths: tuple | None  # B lengths in [1, T], or None: every sequence has T steps
    with_state: bool  # a random initial state, else None (zeros)
    seed: int


@st.composite
def cases(draw, num_layers=st.integers(1, 2), bidirectional=st.booleans(), with_lengths=st.booleans()):
    kind = draw(st.sampled_from(sorted(KINDS)))
    hidden = draw(st.integers(2 if kind == "lstm-proj" else 1, 6))
    steps, batch = draw(st.integers(1, 12)), draw(st.integers(1, 4))
    lengths = tuple(draw(st.lists(st.integers(1, steps), min_size=batch, max_size=batch))) \
        if draw(with_lengths) else None
    return Case(kind, input_size=draw(st.integers(1, 4)), hidden_size=hidden,
                proj_size=draw(st.integers(1, hidden - 1)) if kind == "lstm-proj" else 0,
                num_layers=draw(num_layers), bidirectional=draw(bidirectional), batch_first=draw(st.booleans()),
                bias=draw(st.booleans()), layer_norm=draw(st.booleans()), steps=steps, batch=batch, lengths=lengths,
                with_state=draw(st.booleans()), seed=draw(st.integers(0, 2 ** 16)))


def make_layer(case: Case, engine: str = "reference", **changes):
    """The case's layer on ``engine``; ``changes`` override its arguments (weights: copy them in)."""
    cls, extra = KINDS[case.kind]
    extra = extra | ({"proj_size": case.proj_size} if case.proj_size else {})
    args = dict(num_layers=case.num_layers, bias=case.bias, batch_first=case.batch_first,
                bidirectional=case.bidirectional, layer_norm=case.layer_norm, **extra) | changes
    torch.manual_seed(case.seed)
    layer = cls(case.input_size, case.hidden_size, dtype=DT, engine=engine, **args)
    with torch.no_grad():  # move layer-norm gains and shifts off their initial 1 and 0
        for name, p in layer.named_parameters():
            if name.startswith("ln_"):
                p.add_(0.3 * torch.randn_like(p))
    return layer


def inputs(case: Case, layer):
    """x (T, B, I) and the initial state (each component (L*D, B, ·)) or None, as leaves."""
    gen = torch.Generator().manual_seed(case.seed + 1)
    x = torch.randn(case.steps, case.batch, case.input_size, generator=gen, dtype=DT, requires_grad=True)
    if not case.with_state:
        return x, None
    template = layer.cells[0].init_state(case.batch, dtype=DT)  # (B, ·) or a tuple of them
    LD = len(layer.cells)
    parts = tuple(torch.randn(LD, *s.shape, generator=gen, dtype=DT, requires_grad=True)
                  for s in (template if isinstance(template, tuple) else (template,)))
    return x, parts if len(parts) > 1 else parts[0]


def lengths_of(case: Case):
    return None if case.lengths is None else torch.tensor(case.lengths)


def components(state) -> tuple:
    return state if isinstance(state, tuple) else (state,)


def measure(out, final, x, hx, params: dict, seed: int) -> dict:
    """Outputs, final state and the gradients (by name) of one random linear functional of both."""
    gen = torch.Generator().manual_seed(seed)
    results = {"output": out, **{f"h_n[{k}]": f for k, f in enumerate(components(final))}}
    loss = sum((t * torch.randn(t.shape, generator=gen, dtype=DT)).sum() for t in results.values())
    leaves = {"input": x, **({} if hx is None else {f"hx[{k}]": h for k, h in enumerate(components(hx))}), **params}
    grads = torch.autograd.grad(loss, list(leaves.values()), materialize_grads=True)
    return {k: v.detach() for k, v in results.items()} | {f"grad {k}": g for k, g in zip(leaves, grads)}


def assert_same(got: dict, want: dict) -> None:
    assert list(got) == list(want)
    for name in want:
        scale = max(1.0, want[name].abs().max().item()) if want[name].numel() else 1.0
        torch.testing.assert_close(got[name], want[name], atol=TOL * scale, rtol=0,
                                   msg=lambda m, n=name: f"{n}: {m}")


def run(layer, case: Case, x, hx) -> dict:
    """``layer`` on time-major ``x`` (in its own layout), measured."""
    xin = x.transpose(0, 1) if layer.batch_first else x  # (T, B, I) -> (B, T, I)
    out, final = layer(xin, hx, lengths=lengths_of(case))
    out = out.transpose(0, 1) if layer.batch_first else out  # back to (T, B, F)
    return measure(out, final, x, hx, dict(layer.named_parameters()), case.seed + 2)


@lru_cache(maxsize=None)
def fused_missing() -> str | None:
    """Why the compiled loops cannot run here (they are built on first use, as engine='auto' does), or None."""
    return next(filter(None, (fused.missing(s) for s in ("elman", "lstm", "gru"))), None)


def on(engine: str, case: Case) -> Case:
    """The case as ``engine`` can run it (native: no layer norm); skips when the compiled loops are missing."""
    if engine == "fused" and fused_missing() is not None:
        pytest.skip(f"engine 'fused' is not available: {fused_missing()}")
    return replace(case, layer_norm=False) if engine == "native" else case  # torch's kernels have no layer norm


# -- 1. every engine is the reference engine ----------------------------------------------------------------------
@pytest.mark.parametrize("engine", ["bptt", "fused", "native"])
@SETTINGS
@given(case=cases())
def test_every_engine_gives_the_reference_engines_outputs_states_and_gradients(engine, case):
    case = on(engine, case)
    want_layer = make_layer(case)
    got_layer = make_layer(case, engine)
    got_layer.load_state_dict(want_layer.state_dict())
    x, hx = inputs(case, want_layer)
    assert_same(run(got_layer, case, x, hx), run(want_layer, case, x, hx))


# -- 2. a PackedSequence is the padded batch with lengths= -----------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
@EACH_ENGINE
@given(case=cases(with_lengths=st.just(True)), enforce_sorted=st.booleans())
def test_a_packed_batch_gives_what_the_padded_batch_with_lengths_gives(engine, case, enforce_sorted):
    case = on(engine, case)
    if enforce_sorted:  # pack_padded_sequence then takes the batch as it is, no permutation
        case = replace(case, lengths=tuple(sorted(case.lengths, reverse=True)))
    layer = make_layer(case, engine)
    x, hx = inputs(case, layer)
    want = run(layer, case, x, hx)
    xin = x.transpose(0, 1) if case.batch_first else x  # the layer's layout
    packed = pack_padded_sequence(xin, torch.tensor(case.lengths), batch_first=case.batch_first,
                                  enforce_sorted=enforce_sorted)
    out, final = layer(packed, hx)
    padded, got_lengths = pad_packed_sequence(out, batch_first=case.batch_first, total_length=case.steps)
    assert got_lengths.tolist() == list(case.lengths)  # the output comes back in the caller's batch order
    padded = padded.transpose(0, 1) if case.batch_first else padded  # (T, B, F)
    assert_same(measure(padded, final, x, hx, dict(layer.named_parameters()), case.seed + 2), want)


# -- 3. batch_first is time-major transposed ---------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
@EACH_ENGINE
@given(case=cases())
def test_batch_first_gives_the_time_major_numbers_transposed(engine, case):
    case = replace(on(engine, case), batch_first=False)
    time_major = make_layer(case, engine)
    batch_first = make_layer(case, engine, batch_first=True)
    batch_first.load_state_dict(time_major.state_dict())
    x, hx = inputs(case, time_major)
    # run() hands the batch_first layer x.transpose(0, 1), a non-contiguous (B, T, I) view, and transposes back
    assert_same(run(batch_first, case, x, hx), run(time_major, case, x, hx))


# -- 4. a bidirectional layer is a forward layer beside a reversed one ----------------------------------------------
def reverse_within(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """x (T, B, F) with each sequence's first lengths[b] steps reversed; the padding stays where it is."""
    t = torch.arange(x.shape[0])[:, None]  # (T, 1)
    index = torch.where(t < lengths[None], lengths[None] - 1 - t, t)  # (T, B): the step each position reads
    return x.gather(0, index[:, :, None].expand_as(x))


def direction(hx, d: int):
    """Direction d's part (1, B, ·) of a one-layer bidirectional state (2, B, ·), or None."""
    if hx is None:
        return None
    return tuple(h[d:d + 1] for h in hx) if isinstance(hx, tuple) else hx[d:d + 1]


@pytest.mark.parametrize("engine", ENGINES)
@EACH_ENGINE
@given(case=cases(num_layers=st.just(1), bidirectional=st.just(True)))
def test_a_bidirectional_layer_is_a_forward_layer_beside_a_reversed_one(engine, case):
    case = replace(on(engine, case), batch_first=False)
    both = make_layer(case, engine)
    x, hx = inputs(case, both)
    want = run(both, case, x, hx)
    weights = both.state_dict()
    forward, backward = make_layer(case, engine, bidirectional=False), make_layer(case, engine, bidirectional=False)
    forward.load_state_dict({k: v for k, v in weights.items() if not k.endswith("_reverse")})
    backward.load_state_dict({k.removesuffix("_reverse"): v for k, v in weights.items() if k.endswith("_reverse")})
    lengths = lengths_of(case)
    full = torch.full((case.batch,), case.steps) if lengths is None else lengths
    out_f, fin_f = forward(x, direction(hx, 0), lengths=lengths)
    out_b, fin_b = backward(reverse_within(x, full), direction(hx, 1), lengths=lengths)
    out = torch.cat([out_f, reverse_within(out_b, full)], dim=2)  # (T, B, 2Y), the padding zero in both
    final = tuple(torch.cat([f, b]) for f, b in zip(components(fin_f), components(fin_b)))  # (2, B, ·)
    final = final if isinstance(fin_f, tuple) else final[0]
    params = dict(forward.named_parameters()) | {f"{k}_reverse": p for k, p in backward.named_parameters()}
    params = {k: params[k] for k, _ in both.named_parameters()}  # the bidirectional layer's order
    assert_same(measure(out, final, x, hx, params, case.seed + 2), want)


# -- 5. two chunks with the state carried are the whole sequence -------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
@EACH_ENGINE
@given(case=cases(bidirectional=st.just(False), with_lengths=st.just(False)), data=st.data())
def test_two_chunks_with_the_state_carried_are_the_whole_sequence(engine, case, data):
    """Every sequence of length L <= T (lengths=None: L = T), split at 1 <= k < L: k steps, then the rest."""
    case = replace(on(engine, case), steps=max(case.steps, 2))
    equal = data.draw(st.none() | st.integers(2, case.steps), label="equal length")
    case = replace(case, lengths=None if equal is None else (equal,) * case.batch)
    steps = case.steps if equal is None else equal
    k = data.draw(st.integers(1, steps - 1), label="split")
    layer = make_layer(case, engine)
    x, hx = inputs(case, layer)
    want = run(layer, case, x, hx)
    first, second = (None, None) if equal is None else \
        (torch.full((case.batch,), k), torch.full((case.batch,), steps - k))
    xin = x.transpose(0, 1) if case.batch_first else x  # the layer's layout
    time = 1 if case.batch_first else 0
    out1, h1 = layer(xin.narrow(time, 0, k), hx, lengths=first)
    out2, h2 = layer(xin.narrow(time, k, case.steps - k), h1, lengths=second)
    out = torch.cat([out1, out2], dim=time)
    out = out.transpose(0, 1) if case.batch_first else out  # (T, B, F)
    assert_same(measure(out, h2, x, hx, dict(layer.named_parameters()), case.seed + 2), want)
