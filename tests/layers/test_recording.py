"""Layers record their cells' per-step states through the engines; explain lives with the layers."""
import pytest
import torch

import rnnkit
from rnnkit.kernels import reference
from rnnkit.kernels.record import Recorder
from rnnkit.layers import record_states, recurrent_layers

DT = torch.float64


@pytest.mark.parametrize("engine", ["auto", "reference", "bptt"])
def test_every_layer_and_direction_is_recorded_in_call_order(engine):
    torch.manual_seed(0)
    lstm = rnnkit.LSTM(3, 4, 2, bidirectional=True, engine=engine, dtype=DT)
    x = torch.randn(5, 2, 3, dtype=DT)
    lengths = torch.tensor([5, 3])
    plain, _ = lstm(x, lengths=lengths)
    with lstm.recording() as recorder:
        out, _ = lstm(x, lengths=lengths)
    torch.testing.assert_close(out, plain, rtol=0, atol=1e-12)
    assert [(r.layer, r.direction, r.reverse) for r in recorder] == [
        (0, 0, False), (0, 1, True), (1, 0, False), (1, 1, True)]
    assert {r.engine for r in recorder} == {"bptt" if engine == "auto" else engine}
    assert all(r.cell is c for r, c in zip(recorder, lstm.cells)) and lstm._recorder is None
    # each recording matches the reference engine run on the cell alone
    again = Recorder()
    reference.run(lstm.cells[1], x, lstm.cells[1].init_state(2, dtype=DT), lengths, True, record=again)
    for a, b in zip(recorder[1].state_parts, again[0].state_parts):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    lstm(x)  # outside the block nothing is recorded
    assert len(recorder) == 4


def test_a_named_engine_that_cannot_record_raises_unless_fallback():
    lstm = rnnkit.LSTM(3, 4, engine="native")
    x = torch.randn(5, 2, 3)
    with pytest.raises(ValueError, match="engine 'native' cannot record per-step states"):
        with lstm.recording():
            lstm(x)
    with lstm.recording(fallback=True) as recorder:
        lstm(x)
    assert recorder[0].engine == "bptt" and "measured on engine 'bptt'" in recorder.note
    assert lstm.engine == "native" and lstm._recorder is None
    with pytest.raises(TypeError, match="LSTM: expected recorder to be an rnnkit.kernels.Recorder or None, got list"):
        with lstm.recording(recorder=[]):
            pass


def test_record_states_covers_every_rnnkit_layer_in_a_model():
    torch.manual_seed(0)
    model = torch.nn.ModuleDict({"a": rnnkit.GRU(3, 4), "b": rnnkit.RNN(4, 2)})
    x = torch.randn(6, 2, 3)
    assert recurrent_layers(model) == [model["a"], model["b"]]
    with record_states(model) as recorder:
        model["b"](model["a"](x)[0])
    assert [type(r.cell).__name__ for r in recorder] == ["GRUCell", "ElmanCell"]
    with pytest.raises(TypeError, match=r"record_states: expected a model holding an rnnkit recurrent layer "
                                        r"\(rnnkit.RNN/LSTM/GRU/Recurrent\), got Linear, which holds none"):
        with record_states(torch.nn.Linear(2, 2)):
            pass
    with pytest.raises(TypeError, match="expected model to be a torch.nn.Module, got str"):
        with record_states("model"):
            pass


def test_explain_lives_with_the_layers():
    assert rnnkit.explain is rnnkit.layers.explain
    assert not hasattr(rnnkit.kernels, "explain") and not hasattr(rnnkit.kernels.dispatch, "explain")
    report = rnnkit.explain(rnnkit.RNN(4, 8), torch.randn(5, 3, 4))
    assert isinstance(report, rnnkit.layers.Explanation) and report.chosen == "fused"
