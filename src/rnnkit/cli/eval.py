"""``rnnkit eval``: evaluate a training checkpoint on its task's held-out batches."""
from __future__ import annotations

import argparse

HELP = "evaluate a checkpoint written by `rnnkit train` on its task's test (or val) batches"
EXAMPLES = """Examples:
  rnnkit eval runs/shakespeare-char/checkpoint.pt             # lm, forecast, classify: the whole test part
  rnnkit eval runs/adding-lstm/checkpoint.pt
  rnnkit eval runs/adding-lstm/checkpoint.pt --split val --batches 4 --batch-size 500"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("eval", help=HELP, description=HELP + ".\n\n" + EXAMPLES,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a checkpoint.pt written by rnnkit train")
    parser.add_argument("--split", choices=("test", "val"), default="test", help="which batches (default: test)")
    parser.add_argument("--batches", type=int, default=10, help="how many batches (default: 10)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="sequences per batch (default: the training batch size)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ... (default: cpu)")
    return parser


def run(args: argparse.Namespace) -> int:
    from rnnkit.cli.train import fail
    from rnnkit.models import jobs
    from rnnkit.train import CheckpointError, Trainer
    from rnnkit.train.checkpoint import load_checkpoint
    from rnnkit.train.run import from_mapping

    try:
        if args.batches < 1:
            raise ValueError(f"expected --batches >= 1, got {args.batches}")
        if args.batch_size is not None and args.batch_size < 1:
            raise ValueError(f"expected --batch-size >= 1, got {args.batch_size}")
        ckpt = load_checkpoint(args.checkpoint)
        saved = ckpt["config"]
        if saved.get("task") in jobs.JOB_NAMES:  # real jobs score their whole split beside their baselines
            for line in jobs.get(saved["task"]).evaluate(ckpt, args.checkpoint, args.split):
                print(line)
            return 0
        try:
            values = {"task": saved["task"], "length": saved["task_length"], "data_seed": saved["data_seed"],
                      "batch_size": args.batch_size or saved["batch_size"], "cell": saved["model_cell"],
                      "hidden_size": saved["model_hidden_size"], "num_layers": saved["model_num_layers"],
                      "init": saved["init"], **saved["train"]}
        except (KeyError, TypeError) as exc:
            raise CheckpointError(f"checkpoint {args.checkpoint} lacks the run field {exc}") from None
        config = from_mapping(values, f"checkpoint {args.checkpoint}")
        task = config.make_task()
        trainer = Trainer(config.make_model(), task, config.train, None, run_config=config.run_fields(),
                          device=args.device)
        trainer.load(args.checkpoint)
    except (ValueError, TypeError, CheckpointError) as exc:
        return fail("eval", str(exc))
    loss, metric = trainer.evaluate(args.split, args.batches)
    sequences = args.batches * task.batch_size
    print(f"{task.name} length {task.length}, {config.cell} H={config.hidden_size}, step {trainer.step}: "
          f"{args.split} loss {loss:.6g}, {task.metric_name} {metric:.6g} over {sequences} sequences "
          f"(memoryless baseline loss {task.baseline:.6g})")
    return 0
