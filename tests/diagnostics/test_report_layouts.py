"""diagnose measures the same network the same way whether its layer is batch-first or time-major."""
import pytest
import torch

import rnnkit
from rnnkit.diagnostics.report import diagnose


class _Head(torch.nn.Module):
    """A model holding one recurrent layer (an LSTM unless ``rnn`` is given), its outputs as they come."""

    def __init__(self, batch_first: bool = False, rnn=None):
        super().__init__()
        self.rnn = rnnkit.LSTM(2, 5, batch_first=batch_first) if rnn is None else rnn

    def forward(self, x):
        return self.rnn(x)[0]


def _diagnosed(head=None, T: int = 8, B: int = 3):
    torch.manual_seed(0)
    head = _Head() if head is None else head
    return diagnose(head, torch.randn(T, B, 2, dtype=torch.float64), lambda out, b: out[-1].sum(), max_lag=T)


def test_a_batch_first_layer_is_diagnosed_as_its_time_major_twin():
    torch.manual_seed(0)
    x = torch.randn(12, 6, 2, dtype=torch.float64)  # (T, B, I)
    major, first = _Head(False), _Head(True)
    first.load_state_dict(major.state_dict())
    a = diagnose(major, x, lambda out, b: out[-1].sum(), max_lag=10)
    b = diagnose(first, x.transpose(0, 1).contiguous(), lambda out, b: out[:, -1].sum(), max_lag=10)
    assert b.jacobian_rate == pytest.approx(a.jacobian_rate, rel=1e-10)
    assert b.gates[0].mean == pytest.approx(a.gates[0].mean, rel=1e-10)
    assert b.gates[0].saturated == pytest.approx(a.gates[0].saturated, rel=1e-10)
    torch.testing.assert_close(b.flow.norms, a.flow.norms, rtol=1e-10, atol=0)


def test_the_json_report_names_its_gradient_flow_fields():
    flow = _diagnosed().to_dict()["gradient_flow"]
    assert set(flow) == {"engine", "note", "shape_L_D_T", "norms", "ratio_last_layer_forward"}
    assert flow["shape_L_D_T"] == [1, 1, 8]


@pytest.mark.parametrize("make, gated", [(lambda: rnnkit.GRU(2, 4, bidirectional=True), True),
                                         (lambda: rnnkit.LSTM(2, 4), True), (lambda: rnnkit.RNN(2, 4), False)])
def test_gated_layers_report_their_gates_one_per_direction(make, gated):
    torch.manual_seed(0)
    layer = make()
    d = _diagnosed(_Head(rnn=layer), T=6, B=2)
    assert len(d.gates) == (layer.num_directions if gated else 0)


def test_a_report_makes_the_folders_it_is_written_into(tmp_path):
    from rnnkit.diagnostics.report import write_report
    d = _diagnosed()
    written, why = write_report(d, tmp_path / "new" / "deeper", title="t")
    names = {p.name for p in written}
    assert {"report.txt", "report.json"} <= names and all(p.parent == tmp_path / "new" / "deeper" for p in written)
    assert why is not None or {"gradient_flow.png", "eigenvalues.png", "gates.png"} <= names


def test_the_json_report_names_each_spectrum_s_fields():
    d = _diagnosed()
    spectra = d.to_dict()["spectra"]
    assert spectra and all({"block", "spectral_radius", "spectral_norm"} <= set(s) for s in spectra)
    assert [s["spectral_radius"] for s in spectra] == [s.radius for s in d.spectra]
