"""The rnnkit command: in-process calls and one subprocess smoke test."""
import re
import subprocess
import sys

import pytest

import rnnkit
from rnnkit.cli.main import main


def test_info_in_process(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"rnnkit  {rnnkit.__version__}" in out
    assert "engines auto, native, fused, triton, bptt, scan, reference" in out
    from rnnkit.kernels.fused import sources
    for source in sources():  # one line per compiled kernel source: built or not
        assert re.search(rf"^fused   {re.escape(source)}: (built \(cached\)|not built yet)", out, re.M), source


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage: rnnkit" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["fly"])
    assert exc.value.code == 2
    assert "invalid choice: 'fly'" in capsys.readouterr().err


def test_module_entry_point_subprocess():
    result = subprocess.run([sys.executable, "-m", "rnnkit", "--version"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert result.stdout.strip() == f"rnnkit {rnnkit.__version__}"


def test_ctrl_c_before_a_command_handles_it_is_one_line_and_exit_130(capsys, monkeypatch):
    from rnnkit.cli import info

    def interrupted(args):
        raise KeyboardInterrupt
    monkeypatch.setattr(info, "run", interrupted)
    assert main(["info"]) == 130
    assert capsys.readouterr().err == "rnnkit: interrupted\n"
