"""Plant six plausible bugs one at a time and check that the test suite catches each.

Each bug is a one-line change to rnnkit's source (ones an audit found surviving the
whole suite); the script applies it, runs the tests written to catch it
(``tests/properties/test_user_rules.py``) and restores the file, whatever happens.

    python benchmarks/planted_bugs.py

Prints one line per bug: the tests that failed (they should) or "SURVIVED".
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = "tests/properties/test_user_rules.py"
BUGS = [  # (what, file, the line as it is, the bug, -k selection of the tests that should catch it)
    ("clipping by norm skipped whenever clipping by value is set", "src/rnnkit/train/trainer.py",
     "if cfg.clip_norm is not None:", "if cfg.clip_norm is not None and cfg.clip_value is None:", "clipped"),
    ("the reverse direction's ratio normalised by the wrong step", "src/rnnkit/diagnostics/flow.py",
     "ref = n[-1] if direction == 0 else n[0]", "ref = n[-1]", "normalised_by_the_last_step"),
    ("sampling temperature multiplied instead of divided", "src/rnnkit/models/sampling.py",
     "torch.softmax(z / temperature, dim=0)", "torch.softmax(z * temperature, dim=0)", "temperature"),
    ("the forecaster's normalisation fitted on the whole series", "src/rnnkit/jobs/forecast.py",
     "seen = forward_transform(config, series.values[:n_train])", "seen = forward_transform(config, series.values)",
     "normalisation"),
    ("a run stopped by NaN/Inf exits 0", "src/rnnkit/cli/train.py",
     'if result.stopped == "nonfinite":\n        return 1', 'if result.stopped == "nonfinite":\n        return 0',
     "nan"),
    ("training windows whose targets reach one value into the validation part", "src/rnnkit/data/series.py",
     'top = self.bounds["train"][1] - self.length - self.horizon + 1',
     'top = self.bounds["train"][1] - self.length - self.horizon + 2', "window"),
]


def main() -> int:
    survived = 0
    for what, name, line, bug, selection in BUGS:
        path = ROOT / name
        source = path.read_text()
        if source.count(line) != 1:
            print(f"{what}: the line to change is not in {name} exactly once; update this script")
            return 2
        path.write_text(source.replace(line, bug))
        try:
            run = subprocess.run([sys.executable, "-m", "pytest", TESTS, "-q", "-p", "no:cacheprovider", "-k",
                                  selection], cwd=ROOT, capture_output=True, text=True)
        finally:
            path.write_text(source)
        failed = [row.split("::")[1].split(" ")[0] for row in run.stdout.splitlines() if row.startswith("FAILED")]
        survived += not failed
        print(f"{what}: " + (", ".join(failed) if failed else "SURVIVED"))
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
