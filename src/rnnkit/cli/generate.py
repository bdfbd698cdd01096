"""``rnnkit generate``: continue a prompt with a language model trained by ``rnnkit train --task lm``."""
from __future__ import annotations

import argparse

HELP = "generate text from a language-model checkpoint and a prompt"
EXAMPLES = """Examples:
  rnnkit generate runs/shakespeare-char/checkpoint.pt --prompt "Ham." --length 300
  rnnkit generate runs/words/checkpoint.pt --prompt "my lord" --temperature 0.7 --top-k 40 --seed 3

The prompt is read in the model's own tokens (characters or words). For a character
model every character of the prompt must be in its vocabulary; a word model reads
unknown words as <unk>. The same checkpoint, prompt and seed give the same text."""


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("generate", help=HELP, description=HELP + ".\n\n" + EXAMPLES,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a checkpoint.pt written by rnnkit train --task lm")
    parser.add_argument("--prompt", default=None,
                        help="text to continue (default: a line break, i.e. start a new line)")
    parser.add_argument("--length", type=int, default=300, help="tokens to generate (default: 300)")
    parser.add_argument("--temperature", type=float, default=0.8,
                        help="divide the logits by this; 0 = greedy (default: 0.8)")
    parser.add_argument("--top-k", type=int, default=None,
                        help="draw only from the k most likely tokens (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draws (default: 0)")
    return parser


def run(args: argparse.Namespace) -> int:
    import sys

    import torch

    from rnnkit.cli.parsing import fail
    from rnnkit.jobs import lm, load_for
    from rnnkit.train import CheckpointError

    try:
        if args.length < 0:
            raise ValueError(f"expected --length >= 0, got {args.length}")
        if not 0 <= args.temperature < float("inf"):  # NaN fails both comparisons
            raise ValueError(f"expected a finite --temperature >= 0, got {args.temperature}")
        if args.top_k is not None and args.top_k < 1:
            raise ValueError(f"expected --top-k >= 1, got {args.top_k}")
        restored = lm.restore(load_for(args.checkpoint, "lm", "generate"), args.checkpoint)
        prompt, unknown = lm.read_prompt(restored.transforms["vocab"], args.prompt)
    except (ValueError, TypeError, CheckpointError) as exc:
        return fail("generate", str(exc))
    if unknown:
        print(f"rnnkit generate: {len(unknown)} prompt word(s) not in the vocabulary are read as <unk>: "
              f"{', '.join(repr(t) for t in unknown[:10])}", file=sys.stderr)
    torch.set_num_threads(1)
    print(lm.continuation(restored, prompt, args.length, temperature=args.temperature, top_k=args.top_k,
                          seed=args.seed))
    return 0
