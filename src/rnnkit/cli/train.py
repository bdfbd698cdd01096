"""``rnnkit train``: flags (or a TOML config) -> job -> Trainer -> the job's report.

``--task`` picks the job (:data:`rnnkit.jobs.JOBS`); every other flag is a field of that
job's config or of :class:`~rnnkit.train.TrainConfig`, with its help text from the field.
"""
from __future__ import annotations

import argparse

HELP = "train a recurrent model: a language model, a forecaster, a classifier, or a synthetic long-range task"
EXAMPLES = """Examples:
  rnnkit train --task lm --max-minutes 2 --out runs/shakespeare-char      # char-level LSTM on the bundled plays
  rnnkit train --task lm --tokens word --text my.txt --out runs/words     # word-level on any UTF-8 text
  rnnkit train --task forecast --horizon 2 --out runs/sunspots            # the bundled yearly sunspots
  rnnkit train --task forecast --csv sales.csv --column units --date-column day --missing fill --season 7
  rnnkit train --task classify --bidirectional --out runs/digits          # the bundled digit strokes
  rnnkit train --task fill --out runs/fill    # fill in missing words from left, right, both sides
  rnnkit train --task adding --length 100 --cell lstm --out runs/adding-lstm
  rnnkit train --task copy --length 50 --cell gru --tbptt 20 --schedule cosine --warmup-steps 100
  rnnkit train --config run.toml --steps 5000           # flags override the file
  rnnkit train --out runs/adding-lstm --resume          # continue from runs/adding-lstm/checkpoint.pt
  torchrun --nproc_per_node 2 -m rnnkit train --task adding --out runs/ddp"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    from rnnkit.cli.parsing import add_config_flags
    from rnnkit.jobs import DEFAULT, JOBS
    from rnnkit.train import TrainConfig

    parser = subparsers.add_parser("train", help=HELP, description=HELP + ".\n\n" + EXAMPLES,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    first = parser.add_argument_group("task and model")
    first.add_argument("--task", choices=tuple(JOBS), default=argparse.SUPPRESS,
                       help=f"what to train (default: {DEFAULT})")
    seen = {"task": DEFAULT}  # flag name -> the default shown in its help (from the first config that has it)
    add_config_flags(first, JOBS[DEFAULT].Config, seen)
    add_config_flags(parser.add_argument_group("training"), TrainConfig, seen)
    for job in dict.fromkeys(JOBS.values()):  # each job once, in registry order
        if job.Config is not JOBS[DEFAULT].Config:
            group = parser.add_argument_group(f"--task {job.NAME}", _defaults(job, dict(seen)))
            add_config_flags(group, job.Config, seen)
    run = parser.add_argument_group("run")
    run.add_argument("--config", metavar="TOML", help="a TOML file with any of the fields above (flags win)")
    run.add_argument("--out", metavar="DIR", default="runs/train", help="output directory (default: runs/train)")
    run.add_argument("--resume", nargs="?", const="", default=None, metavar="CHECKPOINT",
                     help="continue from CHECKPOINT (default: DIR/checkpoint.pt)")
    run.add_argument("--overwrite", action="store_true",
                     help="replace the run DIR already holds (its checkpoints and logs) instead of refusing")
    run.add_argument("--report-on", choices=("best", "last"), default="best",
                     help="the weights the closing report scores: best.pt (the best val loss) or the last step's "
                          "(default: best)")
    run.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    run.add_argument("--threads", type=int, default=1,
                     help="torch CPU threads per process (default: 1; small recurrent models run fastest "
                          "single-threaded, and extra threads spin against other processes)")
    parser.set_defaults(command="train")
    return parser


def _defaults(job, shown: dict) -> str | None:
    """The defaults a job sets differently from those shown with the flags above (shown in --help)."""
    from dataclasses import fields

    own = {f.name: f.default for f in fields(job.Config) if f.name in shown and f.default != shown[f.name]}
    own.update({k: v for k, v in job.TRAIN_DEFAULTS.items() if v != shown[k]})
    text = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in own.items())
    return f"its own flags are below; with --task {job.NAME} these flags above default to: {text}" if text else None


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from rnnkit import jobs, set_deterministic
    from rnnkit.cli.parsing import fail, set_threads
    from rnnkit.train import CheckpointError, Trainer, rundir

    try:
        values = jobs.read_toml(args.config) if args.config else {}
        source = f"config file {args.config}" if args.config else "rnnkit train"
        values.update({k: v for k, v in vars(args).items() if k in _config_keys()})  # flags given win
        resume = None if args.resume is None else Path(args.resume or Path(args.out) / "checkpoint.pt")
        values, changes = jobs.resumed_values(resume, values) if resume else (values, [])  # the run's own base
        job = jobs.get(values.get("task", jobs.DEFAULT))
        config, train_config = jobs.from_mapping(job, values, source)
        out, replaced = rundir.prepare_run_dir(args.out, resume=args.resume is not None, overwrite=args.overwrite)
        set_threads(args.threads)
        (set_deterministic if train_config.deterministic else torch.manual_seed)(train_config.seed)
        built = job.build(config)
        trainer = Trainer(built.model, built.task, train_config, out, run_config=built.run_fields, device=args.device)
        if resume:
            trainer.load(resume)
            print(f"rnnkit train: resuming {resume} at step {trainer.step}" + "; changed: " * bool(changes)
                  + ", ".join(changes))
        rundir.make_writable(out)
    except (ValueError, TypeError, CheckpointError) as exc:
        return fail("train", str(exc))
    rundir.clear(replaced)  # only now: a refused run leaves the directory as it was
    result = trainer.fit()
    if not trainer.ctx.main:
        return 0
    print(f"rnnkit train: {result.message}")
    if result.stopped == "nonfinite":
        return 1
    print(f"checkpoint: {out / 'checkpoint.pt'}")
    print(jobs.report_weights(trainer, result, args.report_on))
    for line in job.report(trainer, built):
        print(line)
    return {"interrupted": 130}.get(result.stopped, 0)


def _config_keys() -> set:
    from dataclasses import fields

    from rnnkit.jobs import JOBS
    from rnnkit.train import TrainConfig

    configs = {job.Config for job in JOBS.values()} | {TrainConfig}
    return {"task", *(f.name for config in configs for f in fields(config))}
