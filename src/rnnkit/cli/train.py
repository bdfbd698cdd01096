"""``rnnkit train``: train a recurrent model on a synthetic task (flags or a TOML config)."""
from __future__ import annotations

import argparse
import sys
from dataclasses import fields

HELP = "train a recurrent model on a synthetic long-range task"
EXAMPLES = """Examples:
  rnnkit train --task adding --length 100 --cell lstm --out runs/adding-lstm
  rnnkit train --task copy --length 50 --cell gru --tbptt 20 --schedule cosine --warmup-steps 100
  rnnkit train --config run.toml --steps 5000           # flags override the file
  rnnkit train --out runs/adding-lstm --resume          # continue from runs/adding-lstm/checkpoint.pt
  torchrun --nproc_per_node 2 -m rnnkit train --task adding --out runs/ddp"""


def _optional(kind):
    """A type for fields that may be None: 'none' (any case) gives None."""
    def parse(text: str):
        return None if text.lower() == "none" else kind(text)
    parse.__name__ = kind.__name__
    return parse


def _field_comments(config) -> dict[str, str]:
    """The comment after each field of a config dataclass: the flag's help text."""
    import inspect
    import re

    found = re.findall(r"^\s+(\w+): [^=\n]+=[^#\n]*#\s*(.+)$", inspect.getsource(config), flags=re.M)
    return {name: text.replace("%", "%%") for name, text in found}


class StrictParser(argparse.ArgumentParser):
    """Rejects unknown flags with the list of valid ones; every usage error is one line, exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            valid = sorted(o for a in self._actions for o in a.option_strings if o.startswith("--"))
            self.error(f"unrecognized arguments: {' '.join(extras)}; valid options are {', '.join(valid)}")
        return namespace, extras


def add_parser(subparsers) -> argparse.ArgumentParser:
    from rnnkit.init import INIT_NAMES
    from rnnkit.kernels import ENGINE_NAMES
    from rnnkit.models import LAYERS
    from rnnkit.data.tasks import TASKS
    from rnnkit.train.config import OPTIMIZERS, SCHEDULES, TrainConfig
    from rnnkit.train.run import RunConfig

    parser = subparsers.add_parser("train", help=HELP, description=HELP + ".\n\n" + EXAMPLES,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.__class__ = StrictParser
    choices = {"task": tuple(TASKS), "cell": tuple(LAYERS), "engine": ENGINE_NAMES, "init": INIT_NAMES,
               "optimizer": OPTIMIZERS, "schedule": SCHEDULES}
    for group_name, config in (("task and model", RunConfig), ("training", TrainConfig)):
        group = parser.add_argument_group(group_name)
        comments = _field_comments(config)
        for f in fields(config):
            if f.name == "train":
                continue
            flag = "--" + f.name.replace("_", "-")
            default = f.default if f.default is not f.default_factory else None
            help_text = f"{comments.get(f.name, '')} (default: {default})"
            kinds = [k.strip() for k in str(f.type).split("|")]
            if kinds[0] == "bool":
                group.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                                   help=help_text)
                continue
            kind = {"int": int, "float": float, "str": str}[kinds[0]]
            group.add_argument(flag, dest=f.name, default=argparse.SUPPRESS, choices=choices.get(f.name),
                               type=_optional(kind) if "None" in kinds else kind,
                               metavar=None if f.name in choices else kinds[0].upper(),
                               help=help_text + (" ('none' turns it off)" if "None" in kinds else ""))
    run = parser.add_argument_group("run")
    run.add_argument("--config", metavar="TOML", help="a TOML file with any of the fields above (flags win)")
    run.add_argument("--out", metavar="DIR", default="runs/train", help="output directory (default: runs/train)")
    run.add_argument("--resume", nargs="?", const="", default=None, metavar="CHECKPOINT",
                     help="continue from CHECKPOINT (default: DIR/checkpoint.pt)")
    run.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    run.add_argument("--threads", type=int, default=1,
                     help="torch CPU threads per process (default: 1; small recurrent models run fastest "
                          "single-threaded, and extra threads spin against other processes)")
    parser.set_defaults(command="train")
    return parser


def fail(command: str, message: str) -> int:
    """One clear line on stderr and exit code 2 (usage errors and bad files)."""
    print(f"rnnkit {command}: error: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from rnnkit.train import CheckpointError, Trainer
    from rnnkit.train.run import VALID_KEYS, from_mapping, read_toml

    try:
        values = read_toml(args.config) if args.config else {}
        source = f"config file {args.config}" if args.config else "rnnkit train"
        values.update({k: getattr(args, k) for k in VALID_KEYS if hasattr(args, k)})  # flags given win
        config = from_mapping(values, source)
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise ValueError(f"output directory {out} exists and is a file")
        resume = None
        if args.resume is not None:
            resume = Path(args.resume) if args.resume else out / "checkpoint.pt"
        if args.threads < 1:
            raise ValueError(f"expected --threads >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
        torch.manual_seed(config.train.seed)
        trainer = Trainer(config.make_model(), config.make_task(), config.train, out,
                          run_config=config.run_fields(), device=args.device)
        if resume is not None:
            trainer.load(resume)
    except (ValueError, TypeError, CheckpointError) as exc:
        return fail("train", str(exc))
    result = trainer.fit()
    if trainer.ctx.main:
        print(f"rnnkit train: {result.message}")
        if result.stopped != "nonfinite":
            print(f"checkpoint: {out / 'checkpoint.pt'}")
    return {"nonfinite": 1, "interrupted": 130}.get(result.stopped, 0)
