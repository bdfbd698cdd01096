"""``rnnkit fill``: the candidates for the blank of a sentence, from a model trained by ``rnnkit train --task fill``."""
from __future__ import annotations

import argparse

HELP = "fill in the blank ___ of a sentence: each context's top words with their probabilities"
EXAMPLES = """Examples:
  rnnkit train --task fill --out runs/fill
  rnnkit fill runs/fill/checkpoint.pt "The boys went to ___ and then they got out of the pool"
  rnnkit fill runs/fill/best.pt "I will ___ thee" --top 10

The blank is one run of underscores. Words outside the model's vocabulary are read as
<unk> (and listed on stderr). One line per context: the left words only (a left-to-right
language model), the right words only, and both sides (the bidirectional head)."""


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("fill", help=HELP, description=HELP + ".\n\n" + EXAMPLES,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a checkpoint.pt or best.pt written by rnnkit train --task fill")
    parser.add_argument("sentence", help="words around one blank ___")
    parser.add_argument("--top", type=int, default=5, help="candidates per context (default: 5)")
    return parser


def run(args: argparse.Namespace) -> int:
    import sys

    import torch

    from rnnkit.cli.parsing import fail
    from rnnkit.jobs import fill, load_for
    from rnnkit.train import CheckpointError

    try:
        if args.top < 1:
            raise ValueError(f"expected --top >= 1, got {args.top}")
        restored = fill.restore(load_for(args.checkpoint, "fill", "fill"), args.checkpoint)
        words, position, unknown = fill.read_sentence(restored.transforms["vocab"], args.sentence)
    except (ValueError, TypeError, CheckpointError) as exc:
        return fail("fill", str(exc))
    if unknown:
        print(f"rnnkit fill: {len(unknown)} word(s) not in the vocabulary are read as <unk>: "
              f"{', '.join(repr(t) for t in unknown[:10])}", file=sys.stderr)
    torch.set_num_threads(1)
    for head, best in fill.candidates(restored, words, position, args.top).items():
        print(f"{fill.CONTEXTS[head] + ':':20s} " + "  ".join(f"{w} {p:.3f}" for w, p in best))
    return 0
