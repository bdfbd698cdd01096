"""``python -m rnnkit.kernels.fused``: build every compiled kernel not yet cached, one per core at a time."""
import sys

from rnnkit.kernels.fused.build import build_all

failed = build_all()
for source, why in failed.items():
    print(f"rnnkit: {source}.cpp did not build: {why}", file=sys.stderr)
sys.exit(1 if failed else 0)
