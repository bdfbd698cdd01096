"""Every README code block runs as pasted: each Python block on its own, each console transcript as shown.

- ```python blocks run standalone in a fresh process (nothing carried over from an earlier
  block) and must print no warning; a block written as a doctest (``>>>``) must print what
  it shows.
- ```console blocks are transcripts: ``$ command`` lines, each followed by what it prints.
  The commands of a block run in order in one empty folder; each shown output line must
  appear, in order, among the lines the command printed (stdout and stderr together:
  progress lines may come between them). ``make train`` runs the command the Makefile
  runs; ``head -N FILE`` shows a file the block wrote. In a block with a time budget
  (``make train``, ``--max-minutes``) the numbers differ from run to run: there numbers
  are masked and only rnnkit's own lines about the run are compared (``REPORT_LINES``: not
  the generated text, the periodic progress lines, nor which weights the report is on).
- Blocks that train for minutes are marked ``slow`` and run only with ``pytest -m slow``.
- ```bash blocks are instructions (install, ``make test``) and are not run here.
"""
from __future__ import annotations

import doctest
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SLOW = ("make train", "--max-minutes", "--task forecast", "--task classify", "--tokens word")
TIMED = ("make train", "--max-minutes")
# The echo state network's figures follow the CPU's summation order in the last digits (an ill-conditioned
# ridge solve, then a chaotic free run; docs/esn.md): its numbers are compared to within CPU_SPREAD.
CPU_DEPENDENT, CPU_SPREAD = ("rnnkit esn --task mackey-glass",), 0.1


def blocks(text: str) -> list[tuple[str, str, int]]:
    """(language, body, first line number) of every fenced block."""
    found, lang, body, start = [], None, [], 0
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            if lang is None:
                lang, body, start = line[3:].strip() or "text", [], number + 1
            else:
                found.append((lang, "\n".join(body) + "\n", start))
                lang = None
        elif lang is not None:
            body.append(line)
    return found


def transcript(body: str) -> list[tuple[str, list[str]]]:
    """``(command, shown output lines)`` for each ``$ `` line of a console block."""
    steps = []
    for line in body.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
    return steps


def _make_train() -> tuple[list[str], str]:
    """The flags and output folder ``make train`` passes to ``rnnkit train``."""
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    flags = shlex.split(re.search(r"^TRAIN_FLAGS \?= (.*)$", makefile, flags=re.M).group(1))
    out = re.search(r"^TRAIN_OUT\s+\?= (\S+)$", makefile, flags=re.M).group(1)
    return flags, out


def run_command(command: str, cwd: Path) -> tuple[int, list[str]]:
    """Run one README command the way a user would (``rnnkit`` is this interpreter's rnnkit)."""
    env = {**os.environ, "COLUMNS": "120", "PYTHONUNBUFFERED": "1"}  # stdout and stderr lines in the order printed
    if command == "make train":
        flags, out = _make_train()
        echo = [".venv/bin/python -m rnnkit train " + " ".join(flags) + f" --out {out}"]
        argv = [sys.executable, "-m", "rnnkit", "train", *flags, "--out", out]
    else:
        echo, argv = [], shlex.split(command)
        if argv[0] == "head" and len(argv) == 3 and re.fullmatch(r"-\d+", argv[1]):  # a look at a file written
            return 0, (cwd / argv[2]).read_text().splitlines()[:int(argv[1][1:])]
        if argv[0] != "rnnkit":
            raise ValueError(f"README: expected a command starting with rnnkit, make train or head -N, got {command!r}")
        argv = [sys.executable, "-m", "rnnkit", *argv[1:]]
    done = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=900)
    return done.returncode, echo + done.stdout.splitlines()


# In a timed block, the lines rnnkit writes about the run, numbers masked; not the model's generated
# text, not the periodic progress lines (what they hold depends on when they fall), and not which
# weights the report is on (the best step depends on the run).
REPORT_LINES = re.compile(r"^(step \d+: |rnnkit [a-z]+: |checkpoint: |validation|test: |sample \(|\.venv/bin/python )")


NUMBER = r"\d+(\.\d+)?(e[-+]?\d+)?"


def _mask(line: str) -> str:
    return re.sub(NUMBER, "#", line.rstrip())


def _same(shown: str, printed: str, spread: float) -> bool:
    """The same line, each number within ``spread`` (relative) of the one shown."""
    if spread == 0 or _mask(shown) != _mask(printed):
        return shown == printed
    pairs = zip(re.finditer(NUMBER, shown), re.finditer(NUMBER, printed))
    return all(abs(float(a.group()) - float(b.group())) <= spread * abs(float(a.group())) for a, b in pairs)


def missing_lines(shown: list[str], printed: list[str], timed: bool, spread: float = 0.0) -> list[str]:
    """The shown lines that do not appear, in order, among the printed ones."""
    if timed:
        shown = [_mask(s) for s in shown if REPORT_LINES.match(s)]
        printed = [_mask(p) for p in printed]
    else:
        shown, printed = [s.rstrip() for s in shown], [p.rstrip() for p in printed]
    missing, at = [], 0
    for line in shown:
        if line in ("", "..."):
            continue
        found = next((i for i in range(at, len(printed)) if _same(line, printed[i], spread)), None)
        if found is None:
            missing.append(line)
        else:
            at = found + 1
    return missing


def _params(langs: tuple[str, ...]):
    params = []
    for lang, body, start in blocks(README.read_text()):
        if lang not in langs:
            continue
        slow = lang == "console" and any(s in body for s in SLOW)
        params.append(pytest.param(lang, body, id=f"README-{start}", marks=[pytest.mark.slow] if slow else []))
    return params


def test_the_readme_has_blocks_of_each_kind():
    langs = {lang for lang, _, _ in blocks(README.read_text())}
    assert {"python", "console", "bash"} <= langs and langs <= {"python", "console", "bash", "text"}


@pytest.mark.parametrize("lang, body", _params(("python",)))
def test_python_block_runs_on_its_own(tmp_path, lang, body, monkeypatch):
    if ">>>" in body:
        monkeypatch.setenv("TRITON_INTERPRET", "0")  # what a user's CPU shows: no Triton interpreter
        test = doctest.DocTestParser().get_doctest(body, {}, "README", "README.md", 0)
        runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
        runner.run(test, out=lambda text: print(text, end=""))
        assert runner.summarize(verbose=False).failed == 0
        return
    done = subprocess.run([sys.executable, "-c", body], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr


@pytest.mark.parametrize("lang, body", _params(("console",)))
def test_console_transcript_prints_what_it_shows(tmp_path, lang, body):
    timed = any(t in body for t in TIMED)
    spread = CPU_SPREAD if any(c in body for c in CPU_DEPENDENT) else 0.0
    for command, shown in transcript(body):
        code, printed = run_command(command, tmp_path)
        wanted_error = any(line.startswith("rnnkit ") and ": error:" in line for line in shown)
        assert code == (2 if wanted_error else 0), f"{command!r} exited {code}:\n" + "\n".join(printed[-20:])
        missing = missing_lines(shown, printed, timed, spread)
        assert missing == [], f"{command!r} did not print these lines:\n" + "\n".join(missing) \
            + "\n--- it printed:\n" + "\n".join(printed[-40:])


def test_missing_lines_compares_in_order_and_masks_numbers_when_timed():
    printed = ["step 250: val loss 1.9", "progress", "done: 2.5 bits"]
    assert missing_lines(["step 250: val loss 1.9", "done: 2.5 bits"], printed, False) == []
    assert missing_lines(["done: 2.5 bits", "step 250: val loss 1.9"], printed, False) == ["step 250: val loss 1.9"]
    printed = ["step 250: val loss 1.9", "Ham: a colon in generated text", "test: 2.5 bits"]
    assert missing_lines(["step 300: val loss 1.7", "Ham: other text", "test: 9.1 bits"], printed, True) == []
    assert missing_lines(["step 300: val loss", "..."], printed, True) == ["step #: val loss"]
    printed = ["one-step NRMSE: 2.623e-05", "free run: 3.260e-04"]
    assert missing_lines(["one-step NRMSE: 2.622e-05", "free run: 3.128e-04"], printed, False, 0.1) == []
    assert missing_lines(["one-step NRMSE: 2.622e-05"], printed, False) == ["one-step NRMSE: 2.622e-05"]
    assert missing_lines(["free run: 3.128e-03"], printed, False, 0.1) == ["free run: 3.128e-03"]
