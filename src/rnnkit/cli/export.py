"""``rnnkit export``: a checkpoint -> an ONNX step graph with explicit state, or its weights as safetensors."""
from __future__ import annotations

import argparse

HELP = "export a trained model: ONNX (one step, state as inputs and outputs) or safetensors (weights only)"
EXAMPLES = """Examples:
  rnnkit export runs/shakespeare-char/checkpoint.pt --format onnx      # -> runs/shakespeare-char/checkpoint.onnx
  rnnkit export runs/airline/checkpoint.pt --format onnx --out runs/airline/airline.onnx
  rnnkit export runs/words/checkpoint.pt --format safetensors

ONNX: the graph runs one time step; feed it x and the state (h, and c for an LSTM; zeros
to start) and feed the h_out (c_out) it returns back with the next x. It is checked
against rnnkit with onnxruntime before it is written (max difference 1e-5). The run's
settings (vocabulary, normalisation) are in the model's metadata as rnnkit.config.
safetensors: the weights and settings, no code; every rnnkit command that reads a
checkpoint reads it too (it cannot resume training: no optimizer state)."""


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("export", help=HELP, description=HELP + ".\n\n" + EXAMPLES,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a checkpoint.pt written by rnnkit train")
    parser.add_argument("--format", required=True, choices=("onnx", "safetensors"), help="what to write")
    parser.add_argument("--out", default=None,
                        help="the file to write (default: the checkpoint's name with .onnx or .safetensors)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists (default: refuse)")
    parser.add_argument("--no-check", action="store_true", help="ONNX: skip the onnxruntime comparison")
    return parser


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rnnkit import jobs
    from rnnkit.cli.parsing import fail, output_file
    from rnnkit.jobs import export
    from rnnkit.train import CheckpointError, load_checkpoint

    suffix = export.SUFFIXES[args.format]
    try:
        out = output_file(args.out if args.out is not None else Path(args.checkpoint).with_suffix(suffix), suffix)
        if out.exists() and not args.overwrite:
            raise ValueError(f"{out} exists; pass --overwrite to replace it, or --out another name")
        problem = export.onnx_missing() if args.format == "onnx" else export.weights_file.missing()
        if problem:
            raise ValueError(problem)
        ckpt = load_checkpoint(args.checkpoint)
        _, restored = jobs.restore_checkpoint(ckpt, args.checkpoint)
        done = export.save(restored.model, out, args.format, config=ckpt["config"], step=int(ckpt.get("step", 0)),
                           check=not args.no_check)
    except (ValueError, TypeError, CheckpointError) as exc:
        return fail("export", str(exc))
    print(f"wrote {done.path} ({args.format}, {done.path.stat().st_size:,} bytes)")
    if args.format == "onnx":
        print(f"inputs {', '.join(done.inputs)}; outputs {', '.join(done.outputs)}")
    print(done.note)
    return 0
