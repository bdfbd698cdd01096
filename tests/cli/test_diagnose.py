"""``rnnkit diagnose`` in-process: plots and reports; tanh RNN flags vanishing at T=200, LSTM does not."""
import json

import pytest
import torch

from rnnkit.cli.main import main


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("cell, vanishing", [("rnn", True), ("lstm", False)])
def test_diagnose_adding_200(tmp_path, capsys, cell, vanishing):
    out = tmp_path / cell
    assert main(["diagnose", "--cell", cell, "--task", "adding", "--length", "200", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    for name in ("gradient_flow.png", "eigenvalues.png", "report.txt", "report.json"):
        assert (out / name).stat().st_size > 0
    assert (out / "gates.png").exists() == (cell == "lstm")
    assert (out / "gradient_flow.png").read_bytes()[:4] == b"\x89PNG"
    report = json.loads((out / "report.json").read_text())
    assert report["verdict"]["vanishing"] is vanishing
    assert report["gradient_flow"]["shape_L_D_T"] == [1, 1, 200]
    assert report["info"] == {"task": "adding", "length": 200, "hidden_size": 64, "num_layers": 1,
                              "init": "chrono(max_len=200)" if cell == "lstm" else "default", "seed": 0,
                              "model": "fresh"}
    assert ("ALARM vanishing" in text) is vanishing
    assert (out / "report.txt").read_text().strip() in text
    if cell == "lstm":
        assert report["info"]["init"] == "chrono(max_len=200)" and report["gates"][0]["memory_gate"] == "f"
        gates = report["gates"][0]
        assert list(gates["saturated"]) == ["i", "f", "g", "o"]
        assert all(0 <= v <= 1 for v in gates["saturated"].values())
        shares = ", ".join(f"{k} {v:.1%}" for k, v in gates["saturated"].items())
        assert f"gates of cell 0: saturated (eps {gates['eps']:g}) {shares}; mean f " in text


def test_diagnose_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--length", "10", "--hidden-size", "4", "--batch-size", "4", "--steps", "1",
                 "--cell", "gru", "--eval-every", "0", "--no-progress", "--no-tensorboard", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["diagnose", "--checkpoint", str(run / "checkpoint.pt"), "--out", str(tmp_path / "d")]) == 0
    report = json.loads((tmp_path / "d" / "report.json").read_text())
    assert report["cell"] == "gru" and report["info"] == {
        "task": "adding", "length": 10, "hidden_size": 4, "num_layers": 1, "init": "default",
        "model": f"{run / 'checkpoint.pt'} (step 1)"}
    assert report["gradient_flow"]["shape_L_D_T"] == [1, 1, 10]


@pytest.mark.parametrize("argv, message", [
    (["--length", "1"], "expected --length >= 2, got 1"),
    (["--threshold", "2"], "expected --threshold in (0, 1), got 2.0"),
    (["--checkpoint", "missing.pt"], "does not exist"),
])
def test_usage_errors_are_one_line_exit_2(tmp_path, capsys, argv, message):
    assert main(["diagnose", *argv, "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnkit diagnose: error:") and message in err and err.count("\n") == 1


def test_without_matplotlib_the_reports_are_written_and_the_plots_skipped(tmp_path, capsys, monkeypatch):
    import sys

    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    out = tmp_path / "d"
    assert main(["diagnose", "--cell", "gru", "--length", "12", "--hidden-size", "4", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "report.txt"]
    assert json.loads((out / "report.json").read_text())["cell"] == "gru"
    assert "rnnkit diagnose: no plots: rnnkit plots need matplotlib: pip install 'rnnkit[plot]'" in captured.err
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
