"""gradient_flow against hand-made autograd probes: zero tensors added to every state."""
import pytest
import torch

import rnnkit
from rnnkit.data.tasks import AddingTask
from rnnkit.diagnostics import gradient_flow, state_gradient_support
from rnnkit.diagnostics.report import diagnose
from rnnkit.models import SequenceModel


def _lstm_step(cell, x_t, state, dh, dc):
    """torch.nn's LSTM step written out, a probe added to c_t before h_t reads it, and one to h_t."""
    h, c = state
    gates = x_t @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh  # (B, 4H)
    i, f, g, o = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g) + dc
    h = torch.sigmoid(o) * torch.tanh(c) + dh
    return h, c


def _probed_norms(layer, x, weight):
    """Step every cell by hand, add a zero probe to each new state; dL/dprobe = dL/dh_t."""
    T, B, _ = x.shape
    L, D = layer.num_layers, layer.num_directions
    probes, layer_input = {}, x
    for l in range(L):
        outs = []
        for d in range(D):
            cell = layer.cells[l * D + d]
            state = cell.init_state(B, dtype=x.dtype)
            ys = [None] * T
            for step in range(T):
                t = step if d == 0 else T - 1 - step
                if isinstance(cell, rnnkit.LSTMCell):
                    new = deltas = tuple(torch.zeros_like(p, requires_grad=True) for p in state)
                    parts = _lstm_step(cell, layer_input[t], state, *deltas)
                else:
                    _, new = cell.step(layer_input[t], state)
                    deltas = (torch.zeros_like(new, requires_grad=True),)
                    parts = (new + deltas[0],)
                probes[(l, d, t)] = deltas
                state = parts if isinstance(new, tuple) else parts[0]
                ys[t] = parts[0]  # y_t = h_t for these cells
            outs.append(torch.stack(ys))  # (T, B, H)
        layer_input = torch.cat(outs, dim=2)  # (T, B, D*H)
    loss = (layer_input * weight).sum() + (layer_input[-1] ** 2).sum()
    keys = list(probes)
    grads = torch.autograd.grad(loss, [q for k in keys for q in probes[k]], allow_unused=True)
    n = len(probes[keys[0]])
    norms = torch.zeros(n, L, D, T, dtype=torch.float64)
    for i, (l, d, t) in enumerate(keys):
        for j in range(n):
            g = grads[i * n + j]  # None: that part never reaches the loss (the last LSTM c)
            norms[j, l, d, t] = 0.0 if g is None else g.norm()
    return norms


@pytest.mark.parametrize("make", [
    pytest.param(lambda: rnnkit.RNN(3, 4, 2, bidirectional=True, dtype=torch.float64), id="rnn-L2-D2"),
    pytest.param(lambda: rnnkit.LSTM(3, 4, 2, bidirectional=True, dtype=torch.float64), id="lstm-L2-D2"),
    pytest.param(lambda: rnnkit.GRU(3, 4, 1, dtype=torch.float64), id="gru-L1-D1"),
])
def test_gradient_flow_matches_autograd_probes(make):
    torch.manual_seed(0)
    layer = make()
    x = torch.randn(6, 2, 3, dtype=torch.float64)  # (T, B, I)
    weight = torch.randn(6, 2, layer.num_directions * 4, dtype=torch.float64)

    def loss_fn(output, batch):
        return (output * weight).sum() + (output[-1] ** 2).sum()

    flow = gradient_flow(layer, x, loss_fn)
    expected = _probed_norms(layer, x, weight)
    assert flow.norms.shape == (layer.num_layers, layer.num_directions, 6)
    for j, part in enumerate(flow.parts.values()):
        torch.testing.assert_close(part, expected[j], rtol=0, atol=1e-10)
    assert (flow.norms > 0).all()
    assert flow.note == "" or "cannot provide per-step state gradients" in flow.note


@pytest.mark.parametrize("engine", ["reference", "bptt"])
def test_engines_that_record_measure_on_themselves(engine):
    torch.manual_seed(0)
    layer = rnnkit.GRU(2, 3, 2, bidirectional=True, engine=engine, dtype=torch.float64)
    x = torch.randn(5, 2, 2, dtype=torch.float64)
    weight = torch.randn(5, 2, 6, dtype=torch.float64)
    flow = gradient_flow(layer, x, lambda out, _: (out * weight).sum() + (out[-1] ** 2).sum())
    assert flow.engine == engine and flow.note == ""
    torch.testing.assert_close(flow.norms, _probed_norms(layer, x, weight)[0], rtol=0, atol=1e-10)
    assert state_gradient_support(engine) is None


def test_native_says_so_and_falls_back_to_the_first_engine_that_records():
    torch.manual_seed(0)
    layer = rnnkit.LSTM(2, 3, engine="native", dtype=torch.float64)
    x = torch.randn(5, 2, 2, dtype=torch.float64)
    flow = gradient_flow(layer, x, lambda out, _: out.sum())
    assert flow.note == ("engine 'native' cannot record per-step states: torch's fused kernel runs the whole "
                         "sequence in one call; measured on engine 'bptt' with the same weights")
    assert flow.engine == "bptt" and layer.engine == "native"  # the layer is unchanged
    assert "step" not in vars(layer.cells[0]) and layer._recorder is None
    same = rnnkit.LSTM(2, 3, engine="reference", dtype=torch.float64)
    same.load_state_dict(layer.state_dict())
    ref = gradient_flow(same, x, lambda out, _: out.sum())
    assert ref.note == "" and ref.engine == "reference"
    torch.testing.assert_close(flow.norms, ref.norms, rtol=0, atol=1e-12)
    torch.testing.assert_close(flow.parts["c"], ref.parts["c"], rtol=0, atol=1e-12)
    assert state_gradient_support("reference") is None and state_gradient_support("bptt") is None
    assert state_gradient_support("native") == ("engine 'native' cannot provide per-step state gradients: torch's "
                                                "fused kernel runs the whole sequence in one call")


def test_sequence_model_and_task_loss_leave_grads_untouched():
    torch.manual_seed(0)
    task = rnnkit.data.tasks.AddingTask(length=12, batch_size=3)
    model = SequenceModel("lstm", 2, 5, 1).double()
    batch = task.batch("val", 0)
    batch = type(batch)(batch.x.double(), batch.y.double(), batch.weight.double())
    flow = gradient_flow(model, batch, task.loss)
    assert set(flow.parts) == {"h", "c"}
    assert all(p.grad is None for p in model.parameters())
    rows = flow.table()
    assert len(rows) == 2 * 12 and rows[0]["lag"] == 11
    assert flow.ratio()[-1] == 1.0 and flow.by_lag()[0] == flow.norms[0, 0, -1]


def test_bad_arguments_name_what_was_expected():
    layer = rnnkit.RNN(2, 3)
    with pytest.raises(TypeError, match="expected loss_fn to be a callable"):
        gradient_flow(layer, torch.randn(4, 1, 2), None)
    with pytest.raises(TypeError, match="expected batch to be a tensor"):
        gradient_flow(layer, [1, 2], lambda o, b: o.sum())
    with pytest.raises(ValueError, match=r"exactly 1 rnnkit recurrent layer .*got 0"):
        gradient_flow(torch.nn.Linear(2, 2), torch.randn(4, 1, 2), lambda o, b: o.sum())
    with pytest.raises(ValueError, match="scalar tensor"):
        gradient_flow(layer, torch.randn(4, 1, 2), lambda o, b: o)


def test_diagnose_bounds_the_jacobian_products_by_max_lag_or_takes_the_whole_batch():
    torch.manual_seed(0)
    model, task = SequenceModel("rnn", 2, 6, 1), AddingTask(12, 4)
    batch = task.batch("val", 0)
    whole = diagnose(model, batch, task.loss, max_lag=None).jacobian_rate
    assert whole == diagnose(model, batch, task.loss, max_lag=12).jacobian_rate
    assert whole == diagnose(model, batch, task.loss, max_lag=100).jacobian_rate  # beyond T: the whole batch
    assert whole != diagnose(model, batch, task.loss, max_lag=5).jacobian_rate


def test_a_diagnosis_of_a_loss_that_ignores_the_states_shows_nan_ratios():
    torch.manual_seed(0)
    model, task = SequenceModel("rnn", 2, 6, 1), AddingTask(12, 4)
    text = diagnose(model, task.batch("val", 0), lambda out, batch: out[0].sum() * 0).text()
    assert "\n  k=1: nan  k=10: nan  k=11: nan\n" in text  # no gradient reaches h_T: no ratio to show


def test_diagnose_takes_a_bare_input_tensor_as_the_batch():
    torch.manual_seed(0)
    model, batch = SequenceModel("gru", 2, 5, 1), AddingTask(12, 4).batch("val", 0)
    whole = diagnose(model, batch, lambda out, b: out[0].pow(2).sum())
    bare = diagnose(model, batch.x, lambda out, x: out[0].pow(2).sum())
    assert bare.flow.norms.dtype == torch.float64
    torch.testing.assert_close(bare.flow.norms, whole.flow.norms, rtol=0, atol=0)
