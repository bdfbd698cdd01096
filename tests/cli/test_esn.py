import subprocess
import sys

import pytest
import torch

from rnnkit.cli.main import build_parser, main

TINY = ["--units", "40", "--train", "300", "--test", "100", "--warmup", "50"]


def run_cli(argv):
    return main(["esn", *argv])


def test_mackey_glass_prints_nrmse_and_writes_a_png(tmp_path, capsys):
    png = tmp_path / "mg.png"
    assert run_cli(["--task", "mackey-glass", *TINY, "--generate", "60", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "one-step NRMSE: " in out
    assert "free-running NRMSE over 60 steps: " in out
    nrmse = float(out.split("one-step NRMSE: ")[1].split()[0])
    assert 0 < nrmse < 0.05
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_narma10_skips_generation(tmp_path, capsys):
    assert run_cli(["--task", "narma10", *TINY, "--plot", str(tmp_path / "n.png")]) == 0
    out = capsys.readouterr().out
    assert "one-step NRMSE: " in out and "free-running generation skipped" in out
    assert (tmp_path / "n.png").exists()


def test_csv_task(tmp_path, capsys):
    import math
    path = tmp_path / "series.csv"
    path.write_text("t,value\n" + "".join(f"{t},{math.sin(t / 4):.12f}\n" for t in range(200)))
    assert run_cli(["--task", "csv", "--csv", str(path), "--column", "value", "--units", "30", "--warmup", "20",
                    "--generate", "20", "--plot", "none"]) == 0
    out = capsys.readouterr().out
    assert float(out.split("one-step NRMSE: ")[1].split()[0]) < 0.01


@pytest.mark.parametrize("content, message", [
    pytest.param("", "is empty", id="empty"),
    pytest.param("a\n1\nfoo\n", "expected a number, got 'foo'", id="not-a-number"),
    pytest.param("a\n1\n2\n", "expected at least 20 values", id="too-short"),
])
def test_bad_csv_gives_one_clear_line(tmp_path, capsys, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert run_cli(["--task", "csv", "--csv", str(path), "--plot", "none"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rnnkit esn: error: ") and message in err


@pytest.mark.parametrize("argv, message", [
    pytest.param(["--task", "csv"], "--task csv needs --csv PATH", id="csv-missing"),
    pytest.param(["--spectral-radius", "0"], "expected spectral_radius > 0, got 0.0", id="radius"),
    pytest.param(["--leak-rate", "1.5"], r"expected leak_rate in (0, 1], got 1.5", id="leak"),
    pytest.param(["--train", "100", "--warmup", "100"], "expected --warmup < --train (100), got 100", id="warmup"),
])
def test_bad_flags_give_one_clear_line(capsys, argv, message):
    assert run_cli([*argv, "--plot", "none"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_registered_in_the_root_parser():
    args = build_parser().parse_args(["esn", "--task", "narma10"])
    assert args.command == "esn" and args.task == "narma10"


def test_subprocess_smoke(tmp_path):
    result = subprocess.run([sys.executable, "-m", "rnnkit", "esn", *TINY, "--generate", "20", "--plot",
                             str(tmp_path / "s.png")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "one-step NRMSE" in result.stdout


def test_unwritable_plot_path_gives_one_clear_line_before_the_fit(tmp_path, capsys):
    target = tmp_path / "missing-dir" / "p.png"
    assert run_cli([*TINY, "--generate", "10", "--plot", str(target)]) == 2
    said = capsys.readouterr()
    assert said.err.count("\n") == 1 and f"output directory {target.parent} does not exist" in said.err
    assert "NRMSE" not in said.out and not target.parent.exists()


def test_without_matplotlib_it_refuses_before_fitting(capsys, monkeypatch, tmp_path):
    import time

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    start = time.perf_counter()
    assert run_cli(["--units", "2000", "--train", "3000", "--plot", str(tmp_path / "p.png")]) == 2
    err = capsys.readouterr().err
    assert err == "rnnkit esn: error: plotting needs matplotlib: pip install 'rnnkit[plot]' (or --plot none)\n"
    assert time.perf_counter() - start < 5 and not (tmp_path / "p.png").exists()


def test_the_default_plot_goes_under_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_cli(TINY + ["--generate", "0"]) == 0
    assert "wrote runs/esn.png" in capsys.readouterr().out and (tmp_path / "runs" / "esn.png").exists()


def test_the_job_builds_the_reservoir_it_was_given_on_the_series_its_seed_draws():
    import dataclasses

    from rnnkit.jobs import esn as job
    config = job.ESNJobConfig(units=20, train=300, test=100, warmup=20, spectral_radius=0.8, leak_rate=0.4, seed=3)
    series, model = job.build(config)
    asked = {f: getattr(config, f) for f in ("units", "spectral_radius", "leak_rate", "input_scaling", "bias_scaling",
                                              "connectivity", "storage", "seed")}
    assert {f: getattr(model.config, f) for f in asked} == asked
    other = job.load(dataclasses.replace(config, seed=4))
    assert not torch.equal(series.X, other.X)  # the Mackey-Glass series comes from the seed too
    assert torch.equal(series.X, job.load(config).X)


def test_the_report_mentions_a_free_run_only_when_one_was_asked_for():
    from rnnkit.jobs import esn as job
    fitted = job.Fitted(torch.zeros(5) + 1.0, torch.zeros(5) + 1.1, None)
    for task, generate, skipped in (("narma10", 100, True), ("narma10", 0, False)):
        config = job.ESNJobConfig(task=task, units=20, train=300, test=100, warmup=20, generate=generate)
        series = job.load(config)
        lines = job.report(config, series, fitted)
        assert any("free-running generation skipped: narma10 is input-driven" in line for line in lines) is skipped
        assert len(lines) == 2 + skipped


def test_a_csv_series_is_cut_to_the_training_and_test_steps(tmp_path):
    from rnnkit.jobs import esn as job
    path = tmp_path / "s.csv"
    path.write_text("v\n" + "\n".join(f"{i % 7 * 0.5}" for i in range(100)) + "\n")
    series = job.load(job.ESNJobConfig(task="csv", csv=str(path), train=50, test=20, warmup=5))
    assert series.X.shape == series.Y.shape == (70, 1)
    torch.testing.assert_close(series.X[1:], series.Y[:-1])  # one step ahead
