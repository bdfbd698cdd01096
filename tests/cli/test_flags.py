"""What `rnnkit --help` and each command's --help promise a user, held to what the parser does."""
import argparse
import errno
import re

import pytest

import rnnkit
from rnnkit._checks import TooLarge
from rnnkit.cli.main import build_parser, main

# Options whose parsed default is None and whose help names what None then means, in words.
NONE_MEANS = {"none", "all", "DIR/checkpoint.pt"}


def _subcommands():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub


def _options():
    """(command, flag or positional's name, action) for every argument of every command but --help."""
    for name, parser in _subcommands().choices.items():
        for action in parser._actions:
            if not isinstance(action, argparse._HelpAction):
                yield name, (action.option_strings[-1] if action.option_strings else action.dest), action


def _fresh(command: str, key: str) -> argparse.Action:
    """The argument from a parser built now, inside the test (not the one built while collecting)."""
    return next(action for name, k, action in _options() if (name, k) == (command, key))


OPTIONS = [pytest.param(name, key, id=f"{name} {key}") for name, key, _ in _options()]


def test_every_command_has_a_summary_in_the_top_level_help(capsys):
    summaries = {a.dest: a.help for a in _subcommands()._choices_actions}
    assert set(summaries) == set(_subcommands().choices)
    assert all(text and len(text) > 20 for text in summaries.values()), summaries
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    for command, text in summaries.items():
        assert f"{command} {' '.join(text.split())}" in out


@pytest.mark.parametrize("command, key", OPTIONS)
def test_every_flag_says_what_it_does(command, key):
    action = _fresh(command, key)
    assert action.help and len(action.help) > 10, (command, key)


@pytest.mark.parametrize("command, key", OPTIONS)
def test_the_default_a_flag_states_is_the_default_it_has(command, key):
    action = _fresh(command, key)
    if not action.option_strings or isinstance(
            action, (argparse._StoreTrueAction, argparse._StoreFalseAction, argparse._VersionAction)):
        return
    stated = re.search(r"\(default: ([^)]*)\)", action.help or "")
    if action.default is argparse.SUPPRESS:  # config flags: TrainConfig's default, checked in test_train
        assert stated, (command, action.option_strings)
        return
    if action.default is None:
        assert stated is None or stated.group(1) in NONE_MEANS or " " in stated.group(1), \
            f"{command} {action.option_strings[-1]} says (default: {stated.group(1)}) but parses to None"
        return
    assert stated, f"{command} {action.option_strings[-1]}: help does not state its default {action.default!r}"
    first = re.split(r"[;,]", stated.group(1))[0].strip()
    if isinstance(action.default, (int, float)):
        assert float(first) == action.default, (command, action.option_strings, first)
    else:
        assert first == str(action.default), (command, action.option_strings, first)
    if action.choices is not None:
        assert action.default in action.choices


def test_version_in_process(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"rnnkit {rnnkit.__version__}\n"


def test_eval_takes_either_split_by_name():
    parser = build_parser()
    assert parser.parse_args(["eval", "run.pt", "--split", "test"]).split == "test"
    assert parser.parse_args(["eval", "run.pt", "--split", "val"]).split == "val"
    assert parser.parse_args(["eval", "run.pt"]).split == "test"


def test_esn_search_writes_under_its_documented_folder_by_default():
    assert build_parser().parse_args(["esn", "--search"]).out == "runs/esn-search"


def test_none_is_a_value_only_for_flags_that_may_be_none(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--hidden-size", "none"])
    assert exc.value.code == 2
    assert "--hidden-size" in capsys.readouterr().err
    args = build_parser().parse_args(["train", "--tbptt", "None", "--clip-norm", "none"])
    assert args.tbptt is None and args.clip_norm is None


@pytest.mark.parametrize("flag, least", [("--length", 2), ("--hidden-size", 1), ("--num-layers", 1),
                                         ("--batch-size", 1), ("--max-lag", 1)])
def test_diagnose_names_the_smallest_value_each_size_flag_takes(capsys, flag, least):
    assert main(["diagnose", flag, str(least - 1)]) == 2
    assert f"expected {flag} >= {least}," in capsys.readouterr().err


def test_config_flags_can_be_added_to_a_parser_of_ones_own():
    from rnnkit.cli.parsing import add_config_flags
    from rnnkit.train import TrainConfig
    parser = argparse.ArgumentParser()
    add_config_flags(parser, TrainConfig)
    args = parser.parse_args(["--steps", "7", "--clip-norm", "none"])
    assert args.steps == 7 and args.clip_norm is None


OOM = ("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: you tried to "
       "allocate 68719476736 bytes. Error code 12 (Cannot allocate memory)")


@pytest.mark.parametrize("error, code, line", [
    pytest.param(FileNotFoundError(errno.ENOENT, "No such file or directory", "runs/x/log.csv"), 1,
                 "No such file or directory: runs/x/log.csv", id="file-vanished"),
    pytest.param(OSError(errno.ENOSPC, "No space left on device"), 1, "No space left on device", id="no-file-name"),
    pytest.param(RuntimeError(OOM), 1, "out of memory: a tensor of 68.7 GB did not fit; use smaller sizes "
                 "(--batch-size, --length, --hidden-size, --units)", id="allocator"),
    pytest.param(TooLarge("Trainer: a batch would take 80 GiB, more than the 20 GiB free"), 2,
                 "Trainer: a batch would take 80 GiB, more than the 20 GiB free", id="checked-size"),
])
def test_an_error_inside_a_command_is_one_line_and_its_exit_code(capsys, monkeypatch, error, code, line):
    from rnnkit.cli import info

    def fails(args):
        raise error
    monkeypatch.setattr(info, "run", fails)
    assert main(["info"]) == code
    assert capsys.readouterr().err == f"rnnkit info: error: {line}\n"
