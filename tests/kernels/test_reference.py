"""The reference engine's meaning: lengths, reverse, initial state."""
import pytest
import torch

from rnnkit.cells import ElmanCell, GRUCell, LSTMCell
from rnnkit.kernels import reference
from tests.gradcheck_utils import flat

DT = torch.float64
T, B = 7, 4
LENGTHS = torch.tensor([7, 3, 1, 5])

CELLS = {
    "elman": lambda: ElmanCell(2, 3, dtype=DT),
    "lstm-proj": lambda: LSTMCell(2, 4, proj_size=3, dtype=DT),
    "gru": lambda: GRUCell(2, 3, dtype=DT),
}


def _random_state(cell, batch, gen):
    state = cell.init_state(batch, dtype=DT)
    return tuple(torch.randn(s.shape, generator=gen, dtype=DT) for s in state) if isinstance(state, tuple) \
        else torch.randn(state.shape, generator=gen, dtype=DT)


def _sample(state, b):
    return tuple(s[b:b + 1] for s in state) if isinstance(state, tuple) else state[b:b + 1]


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("name", list(CELLS))
def test_lengths_equal_running_each_sequence_alone(name, reverse):
    torch.manual_seed(0)
    cell = CELLS[name]()
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(T, B, 2, generator=gen, dtype=DT)
    state = _random_state(cell, B, gen)
    out, final = reference.run(cell, x, state, LENGTHS, reverse=reverse)
    assert out.shape == (T, B, cell.output_size)
    for b, L in enumerate(LENGTHS.tolist()):
        seq = x[:L, b:b + 1]  # (L, 1, I)
        if reverse:
            seq = seq.flip(0)
        alone_out, alone_final = reference.run(cell, seq, _sample(state, b))
        if reverse:
            alone_out = alone_out.flip(0)
        torch.testing.assert_close(out[:L, b:b + 1], alone_out, atol=1e-14, rtol=0)
        assert torch.count_nonzero(out[L:, b]) == 0  # zero past the end
        for got, want in zip(flat(final), flat(alone_final)):
            torch.testing.assert_close(got[b:b + 1], want, atol=1e-14, rtol=0)


def test_reverse_without_lengths_reads_backwards():
    cell = CELLS["gru"]()
    x = torch.randn(T, B, 2, dtype=DT)
    h0 = torch.randn(B, 3, dtype=DT)
    out, h = reference.run(cell, x, h0, reverse=True)
    expected_out, expected_h = reference.run(cell, x.flip(0), h0)
    torch.testing.assert_close(out, expected_out.flip(0), atol=0, rtol=0)
    torch.testing.assert_close(h, expected_h, atol=0, rtol=0)


def test_outputs_are_the_steps_of_the_cell():
    cell = CELLS["elman"]()
    x = torch.randn(T, B, 2, dtype=DT)
    h = torch.zeros(B, 3, dtype=DT)
    out, final = reference.run(cell, x, h)
    for t in range(T):
        y, h = cell.step(x[t], h)
        torch.testing.assert_close(out[t], y, atol=0, rtol=0)
    torch.testing.assert_close(final, h, atol=0, rtol=0)


def test_reverse_index_is_an_involution_within_lengths():
    idx = reference.reverse_index(LENGTHS, T, "cpu")  # (T, B)
    assert idx[:, 1].tolist() == [2, 1, 0, 3, 4, 5, 6]
    assert idx[:, 2].tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert torch.equal(idx.gather(0, idx), torch.arange(T).unsqueeze(1).expand(T, B))


def test_full_lengths_equal_no_lengths():
    cell = CELLS["lstm-proj"]()
    x = torch.randn(T, B, 2, dtype=DT)
    state = cell.init_state(B, dtype=DT)
    a = reference.run(cell, x, state, torch.full((B,), T))
    b = reference.run(cell, x, state)
    torch.testing.assert_close(a[0], b[0], atol=0, rtol=0)
