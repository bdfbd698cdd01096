"""``rnnkit experiment N --quick`` in-process: a table, plots and expN.md; bad numbers exit 2."""
import pytest
import torch

from rnnkit.cli.main import main


@pytest.fixture(autouse=True)
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("number, plots", [(2, ["exp2_power.png", "exp2_gradients.png"]),
                                           (3, ["exp3_clipping.png"]), (5, ["exp5_bidirectional.png"])])
def test_quick_experiment_writes_table_and_plots(tmp_path, capsys, number, plots):
    assert main(["experiment", str(number), "--quick", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"Experiment {number}: ") and "| --- |" in text
    assert (tmp_path / f"exp{number}.md").read_text().strip() == text.strip()
    for name in plots:
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_unknown_experiment_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["experiment", "11"])
    assert exc.value.code == 2 and "invalid choice: 11" in capsys.readouterr().err
