"""``rnnkit train``: train a recurrent model on a synthetic task or a real job (flags or a TOML config).

Synthetic tasks (``adding``, ``copy``) take the fields of RunConfig; the real jobs
(``lm``, ``forecast``, ``classify``; :mod:`rnnkit.models.jobs`) take their own config's
fields. Both take every TrainConfig field.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import fields

HELP = "train a recurrent model: a language model, a forecaster, a classifier, or a synthetic long-range task"
EXAMPLES = """Examples:
  rnnkit train --task lm --max-minutes 2 --out runs/shakespeare-char      # char-level LSTM on the bundled plays
  rnnkit train --task lm --tokens word --text my.txt --out runs/words     # word-level on any UTF-8 text
  rnnkit train --task forecast --horizon 2 --out runs/sunspots            # the bundled yearly sunspots
  rnnkit train --task forecast --csv sales.csv --column units --date-column day --missing fill --season 7
  rnnkit train --task classify --bidirectional --out runs/digits          # the bundled digit strokes
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


def add_parser(subparsers) -> argparse.ArgumentParser:
    from rnnkit.init import INIT_NAMES
    from rnnkit.kernels import ENGINE_NAMES
    from rnnkit.models import LAYERS
    from rnnkit.data.tasks import TASKS
    from rnnkit.train.config import OPTIMIZERS, SCHEDULES, TrainConfig
    from rnnkit.train.run import RunConfig

    from rnnkit.data.text import LEVELS
    from rnnkit.models import jobs

    parser = subparsers.add_parser("train", help=HELP, description=HELP + ".\n\n" + EXAMPLES,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    choices = {"task": tuple(TASKS) + jobs.JOB_NAMES, "cell": tuple(LAYERS), "engine": ENGINE_NAMES,
               "init": INIT_NAMES, "optimizer": OPTIMIZERS, "schedule": SCHEDULES, "tokens": LEVELS}
    groups = [("task and model", RunConfig, None), ("training", TrainConfig, None)]
    groups += [(f"--task {name}", jobs.get(name).Config, jobs.get(name)) for name in jobs.JOB_NAMES]
    first = {}  # flag name -> the default shown in its help (from the first config that has it)
    for group_name, config, job in groups:
        group = parser.add_argument_group(group_name, None if job is None else _job_defaults(job, first))
        comments = _field_comments(config)
        for f in fields(config):
            if f.name == "train" or f.name in first:
                continue
            first[f.name] = f.default
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


def _job_defaults(job, first: dict) -> str | None:
    """The defaults a job sets differently from those shown with the flags above (shown in --help)."""
    own = {f.name: f.default for f in fields(job.Config) if f.name in first and f.default != first[f.name]}
    own.update({k: v for k, v in job.TRAIN_DEFAULTS.items() if v != first[k]})
    text = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in own.items())
    return f"its own flags are below; with --task {job.NAME} these flags above default to: {text}" if text else None


def fail(command: str, message: str) -> int:
    """One clear line on stderr and exit code 2 (usage errors and bad files)."""
    print(f"rnnkit {command}: error: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from rnnkit.models import jobs
    from rnnkit.train.run import RunConfig, read_toml

    try:
        values = read_toml(args.config) if args.config else {}
        source = f"config file {args.config}" if args.config else "rnnkit train"
        values.update({k: getattr(args, k) for k in _all_keys() if hasattr(args, k)})  # flags given win
        task = values.get("task", RunConfig.task)
    except ValueError as exc:
        return fail("train", str(exc))
    if task in jobs.JOB_NAMES:
        return _run_job(jobs.get(task), values, source, args)
    return _run_synthetic(values, source, args)


def _all_keys() -> tuple:
    from rnnkit.models import jobs
    from rnnkit.train.run import VALID_KEYS

    keys = list(VALID_KEYS)
    for name in jobs.JOB_NAMES:
        keys += [f.name for f in fields(jobs.get(name).Config) if f.name not in keys]
    return tuple(keys)


def _prepare(args):
    """The output directory and the checkpoint to resume from (or None); sets threads."""
    from pathlib import Path

    import torch

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output directory {out} exists and is a file")
    resume = None
    if args.resume is not None:
        resume = Path(args.resume) if args.resume else out / "checkpoint.pt"
    if args.threads < 1:
        raise ValueError(f"expected --threads >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    return out, resume


def _run_synthetic(values: dict, source: str, args) -> int:
    import torch

    from rnnkit.train import CheckpointError, Trainer
    from rnnkit.train.run import from_mapping

    try:
        config = from_mapping(values, source)
        out, resume = _prepare(args)
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


def _run_job(job, values: dict, source: str, args) -> int:
    """Train one of rnnkit.models.jobs, then print its report (scores beside baselines, a sample)."""
    import torch

    from rnnkit.models import jobs
    from rnnkit.train import CheckpointError, Trainer

    try:
        config, train_config = jobs.from_mapping(job, values, source)
        out, resume = _prepare(args)
        torch.manual_seed(train_config.seed)
        built = job.build(config)
        trainer = Trainer(built.model, built.task, train_config, out, run_config=built.run_fields,
                          device=args.device)
        if resume is not None:
            trainer.load(resume)
    except (ValueError, TypeError, CheckpointError) as exc:
        return fail("train", str(exc))
    result = trainer.fit()
    if not trainer.ctx.main:
        return 0
    print(f"rnnkit train: {result.message}")
    if result.stopped == "nonfinite":
        return 1
    print(f"checkpoint: {out / 'checkpoint.pt'}")
    for line in job.report(trainer, built):
        print(line)
    return {"interrupted": 130}.get(result.stopped, 0)
