"""docs/cli.md shows every command's ``--help`` exactly as rnnkit prints it.

After changing a flag or its help, rewrite the page with ``python -m tests.cli.test_cli_reference``.
"""
import contextlib
import io
import os
import sys
from pathlib import Path

import pytest

import rnnkit
from rnnkit.cli.main import COMMANDS, build_parser

PAGE = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
WIDTH = "100"  # argparse wraps help to $COLUMNS


def help_text(argv: list[str]) -> str:
    """What ``rnnkit ARGV --help`` prints ($COLUMNS set to WIDTH by the caller)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):  # --help prints, then exits 0
        build_parser().parse_args([*argv, "--help"])
    return out.getvalue().replace(f"rnnkit {rnnkit.__version__}", "rnnkit VERSION")


def page() -> str:
    parts = ["# Command-line reference", "",
             "Every `rnnkit` command's `--help`, as it prints it (the same text: `tests/cli/test_cli_reference.py`",
             "checks it). Tutorials with these commands: README.md, docs/training.md, docs/jobs.md, docs/esn.md.", ""]
    for argv in ([], *([name] for name in COMMANDS)):
        parts += ["## `" + " ".join(["rnnkit", *argv]) + "`", "", "```text", help_text(argv).rstrip("\n"), "```", ""]
    return "\n".join(parts)


@pytest.fixture
def columns(monkeypatch):
    monkeypatch.setenv("COLUMNS", WIDTH)


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the page holds Python 3.11's argparse layout "
                    "(3.13 joins an option's spellings differently)")
def test_the_reference_page_shows_every_command_s_help_as_printed(columns):
    assert PAGE.read_text(encoding="utf-8") == page(), "docs/cli.md is stale: python -m tests.cli.test_cli_reference"


def test_the_page_lists_every_command_and_every_flag_of_train(columns):
    text = PAGE.read_text(encoding="utf-8")
    assert all(f"## `rnnkit {name}`" in text for name in COMMANDS)
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    flags = [s for action in train._actions for s in action.option_strings if s.startswith("--")]
    assert len(flags) > 20 and all(flag in text for flag in flags)


if __name__ == "__main__":
    os.environ["COLUMNS"] = WIDTH
    PAGE.write_text(page(), encoding="utf-8")
    print(f"wrote {PAGE}")
