"""Gate statistics: the gates recomputed are the cell's own, saturation is counted right."""
import pytest
import torch

import rnnkit
from rnnkit.diagnostics.gates import gate_stats, gate_values


@pytest.mark.parametrize("layer_norm", [False, True], ids=["plain", "ln"])
def test_lstm_gates_rebuild_the_cell_step(layer_norm):
    torch.manual_seed(0)
    cell = rnnkit.LSTMCell(3, 4, layer_norm=layer_norm, dtype=torch.float64)
    x = torch.randn(5, 3, dtype=torch.float64)
    state = (torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64))
    g = gate_values(cell, x, state)
    _, (h, c) = cell.step(x, state)
    torch.testing.assert_close(c, g["f"] * state[1] + g["i"] * g["g"])
    if not layer_norm:
        torch.testing.assert_close(h, g["o"] * torch.tanh(c))


def test_gru_gates_rebuild_the_cell_step():
    torch.manual_seed(0)
    cell = rnnkit.GRUCell(3, 4, dtype=torch.float64)
    x, h = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    g = gate_values(cell, x, h)
    torch.testing.assert_close(cell.step(x, h)[1], (1 - g["z"]) * g["n"] + g["z"] * h)


def test_saturated_forget_gate():
    cell = rnnkit.LSTMCell(2, 3, dtype=torch.float64)
    with torch.no_grad():
        cell.bias_hh[3:6] = 50.0  # forget gate always ~1
    stats = gate_stats(cell, torch.randn(4, 2, 2, dtype=torch.float64))
    assert stats.saturated["f"] == 1.0 and stats.mean_memory == pytest.approx(1.0)
    assert 0.0 <= stats.saturated["i"] < 1.0 and stats.memory_gate == "f"


def test_elman_has_no_gates():
    with pytest.raises(TypeError, match="expected an LSTMCell or GRUCell, got ElmanCell"):
        gate_stats(rnnkit.ElmanCell(1, 2), torch.zeros(2, 1, 1))


@pytest.mark.parametrize("make", [lambda: rnnkit.LSTMCell(2, 3, dtype=torch.float64),
                                  lambda: rnnkit.GRUCell(2, 3, layer_norm=True, dtype=torch.float64)],
                         ids=["lstm", "gru-ln"])
def test_stats_equal_a_hand_loop_over_the_steps(make):
    torch.manual_seed(0)
    cell = make()
    x = 3 * torch.randn(6, 4, 2, dtype=torch.float64)
    stats = gate_stats(cell, x, eps=0.1)
    state = cell.init_state(4, dtype=torch.float64)
    values = {}
    with torch.no_grad():
        for t in range(6):
            for name, v in gate_values(cell, x[t], state).items():
                values.setdefault(name, []).append(v)
            state = cell.step(x[t], state)[1]
    for name, vs in values.items():
        v = torch.stack(vs)
        sat = (v.abs() > 0.9) if name in ("g", "n") else (v < 0.1) | (v > 0.9)
        assert stats.mean[name] == pytest.approx(float(v.mean()), rel=1e-12)
        assert stats.saturated[name] == pytest.approx(float(sat.double().mean()), rel=1e-12)


def test_saturation_is_strictly_beyond_the_margin(monkeypatch):
    """|tanh| > 1 - eps and sigma < eps or > 1 - eps, as documented: a value on the margin is not saturated."""
    from rnnkit.diagnostics import gates
    values = {"n": torch.tensor([0.95, -0.95, 0.96, -0.97, 0.5], dtype=torch.float64),
              "z": torch.tensor([0.05, 0.95, 0.04, 0.96, 0.5], dtype=torch.float64)}
    monkeypatch.setattr(gates, "gate_values", lambda cell, x, state: values)
    stats = gates.gate_stats(rnnkit.GRUCell(1, 2, dtype=torch.float64), torch.zeros(5, 1, 1, dtype=torch.float64))
    assert stats.saturated == {"n": 0.4, "z": 0.4}
    assert stats.mean["n"] == pytest.approx(float(values["n"].mean())) and stats.memory_gate == "z"
