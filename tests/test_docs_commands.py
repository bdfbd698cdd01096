"""The commands in README.md and docs/ write under runs/ (git-ignored), never over a tracked file."""
import re
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
OUTPUT_FLAGS = ("--out", "--plot", "--output")


def commands(page: Path) -> list[str]:
    """Every ``rnnkit ...`` command shown on a page (in transcripts and in shell blocks)."""
    found = []
    for line in page.read_text().splitlines():
        line = line.strip().removeprefix("$ ")
        if line.startswith("rnnkit "):
            found.append(line.split("  #")[0])
    return found


def outputs(command: str) -> list[str]:
    try:
        argv = shlex.split(command)
    except ValueError:  # prose that starts with "rnnkit " and holds an apostrophe
        argv = command.split()
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in OUTPUT_FLAGS]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_output_of_a_documented_command_goes_under_runs(page):
    wrong = [c for c in commands(page) if any(not o.startswith("runs/") and o != "none" for o in outputs(c))]
    assert wrong == []


def test_runs_is_ignored_by_git():
    assert "runs/" in (ROOT / ".gitignore").read_text().split()
    tracked = subprocess.run(["git", "ls-files", "runs"], cwd=ROOT, capture_output=True, text=True).stdout
    assert tracked == ""


def test_the_checker_sees_outputs():
    assert outputs("rnnkit experiment 2 --out docs/img --quick") == ["docs/img"]
    assert commands(ROOT / "README.md")  # the README shows commands at all
