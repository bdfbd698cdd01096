"""``rnnkit diagnose``: measure vanishing/exploding gradients of a checkpoint or a fresh model.

Writes ``gradient_flow.png`` (||dL/dh_t|| against t, log axis), ``eigenvalues.png`` (W_hh's
eigenvalues and the unit circle), ``gates.png`` (LSTM/GRU gate saturation), ``report.txt``
and ``report.json`` into ``--out``, and prints the text report.
"""
from __future__ import annotations

import argparse

HELP = "measure vanishing and exploding gradients of a checkpoint or a fresh model: plots and a report"
EXAMPLES = """Examples:
  rnnkit diagnose --cell rnn --task adding --length 200          # flags vanishing
  rnnkit diagnose --cell lstm --task adding --length 200         # chrono init: no alarm
  rnnkit diagnose --cell lstm --init default --length 200        # torch.nn's init: vanishing too
  rnnkit diagnose --checkpoint runs/adding-lstm/checkpoint.pt --out runs/adding-lstm/diagnose"""
INITS = ("auto", "default", "orthogonal", "identity", "xavier", "chrono")


def add_parser(subparsers) -> argparse.ArgumentParser:
    from rnnkit.data.tasks import TASKS
    from rnnkit.models import LAYERS

    parser = subparsers.add_parser("diagnose", help=HELP, description=HELP + ".\n\n" + EXAMPLES,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", metavar="PATH", help="a checkpoint.pt written by rnnkit train "
                        "(its task and model; the flags below describe a fresh model instead)")
    parser.add_argument("--cell", choices=tuple(LAYERS), default="rnn", help="fresh model's cell (default: rnn)")
    parser.add_argument("--task", choices=tuple(TASKS), default="adding", help="synthetic task (default: adding)")
    parser.add_argument("--length", type=int, default=100, help="the task's T (default: 100)")
    parser.add_argument("--hidden-size", type=int, default=64, help="H (default: 64)")
    parser.add_argument("--num-layers", type=int, default=1, help="stacked layers (default: 1)")
    parser.add_argument("--init", choices=INITS, default="auto",
                        help="fresh model's init; auto = chrono (max_len = length) for lstm, torch.nn's "
                             "default otherwise (default: auto)")
    parser.add_argument("--batch-size", type=int, default=16, help="sequences measured (default: 16)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fresh weights (default: 0)")
    parser.add_argument("--threshold", type=float, default=1e-6,
                        help="vanishing alarm when ||dL/dh_(T-k)||/||dL/dh_T|| falls below this (default: 1e-6)")
    parser.add_argument("--max-lag", type=int, default=100, help="longest Jacobian product (default: 100)")
    parser.add_argument("--out", metavar="DIR", default="runs/diagnose", help="output directory "
                        "(default: runs/diagnose)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    parser.set_defaults(command="diagnose")
    return parser


def _fresh(args):
    import torch

    from rnnkit.data.tasks import make_task
    from rnnkit.init import Chrono
    from rnnkit.models import SequenceModel

    task = make_task(args.task, args.length, args.batch_size, 0)
    init = args.init
    if init == "auto":
        init = Chrono(max_len=max(args.length, 3)) if args.cell == "lstm" else "default"
    elif init == "chrono":
        init = Chrono(max_len=max(args.length, 3))
    torch.manual_seed(args.seed)
    model = SequenceModel(args.cell, task.input_size, args.hidden_size, task.output_size, args.num_layers,
                          init=None if init == "default" else init)
    name = init if isinstance(init, str) else f"chrono(max_len={init.max_len})"
    return model, task, {"task": args.task, "length": args.length, "hidden_size": args.hidden_size,
                         "num_layers": args.num_layers, "init": name, "seed": args.seed, "model": "fresh"}


def _from_checkpoint(args):
    from rnnkit.train import CheckpointError
    from rnnkit.train.checkpoint import load_checkpoint
    from rnnkit.train.run import from_mapping

    ckpt = load_checkpoint(args.checkpoint)
    saved = ckpt.get("config") or {}
    try:
        values = {"task": saved["task"], "length": saved["task_length"], "data_seed": saved["data_seed"],
                  "batch_size": args.batch_size, "cell": saved["model_cell"], "hidden_size": saved["model_hidden_size"],
                  "num_layers": saved["model_num_layers"], "init": saved["init"]}
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"checkpoint {args.checkpoint} lacks the run field {exc} "
                              "(only synthetic-task checkpoints can be diagnosed)") from None
    config = from_mapping(values, f"checkpoint {args.checkpoint}")
    model = config.make_model()
    try:
        model.load_state_dict(ckpt["model"])
    except (RuntimeError, KeyError) as exc:
        raise CheckpointError(f"checkpoint {args.checkpoint} does not fit its model: "
                              f"{' '.join(str(exc).split())[:200]}") from None
    return model, config.make_task(), {"task": config.task, "length": config.length, "hidden_size": config.hidden_size,
                                       "num_layers": config.num_layers, "init": config.init,
                                       "model": f"{args.checkpoint} (step {ckpt.get('step')})"}


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import torch

    from rnnkit.cli.train import fail
    from rnnkit.diagnostics import plots
    from rnnkit.diagnostics.report import diagnose
    from rnnkit.train import CheckpointError

    try:
        for name in ("length", "hidden_size", "num_layers", "batch_size", "max_lag", "threads"):
            if getattr(args, name) < (2 if name == "length" else 1):
                raise ValueError(f"expected --{name.replace('_', '-')} >= {2 if name == 'length' else 1}, "
                                 f"got {getattr(args, name)}")
        if not 0 < args.threshold < 1:
            raise ValueError(f"expected --threshold in (0, 1), got {args.threshold}")
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise ValueError(f"output directory {out} exists and is a file")
        torch.set_num_threads(args.threads)
        model, task, info = _from_checkpoint(args) if args.checkpoint else _fresh(args)
    except (ValueError, TypeError, CheckpointError) as exc:
        return fail("diagnose", str(exc))
    batch = task.batch("val", 0)
    diagnosis = diagnose(model, batch, task.loss, threshold=args.threshold, max_lag=args.max_lag, info=info)
    out.mkdir(parents=True, exist_ok=True)
    written = [plots.plot_gradient_flow(diagnosis.flow, out / "gradient_flow.png",
                                        title=f"{diagnosis.cell}, {info['task']} T={task.length}: ||dL/dh_t||"),
               plots.plot_eigenvalues(diagnosis.spectra, out / "eigenvalues.png")]
    if diagnosis.gates:
        written.append(plots.plot_gates(diagnosis.gates, out / "gates.png"))
    text = diagnosis.text()
    (out / "report.txt").write_text(text + "\n")
    (out / "report.json").write_text(json.dumps(diagnosis.to_dict(), indent=1) + "\n")
    print(text)
    print("wrote " + ", ".join(str(p) for p in [*written, out / "report.txt", out / "report.json"]))
    return 0
