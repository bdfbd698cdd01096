"""Mutation testing of rnnkit beyond the engines, with mutmut: sample, then report the score.

``benchmarks/mutation.sh`` drives it. Two steps:

    python benchmarks/mutation.py sample --n 350 --seed 0 --out mutants/sample.txt
    python benchmarks/mutation.py report mutants/sample.txt

``sample`` has mutmut write every mutant of the packages named in ``[tool.mutmut]`` of
pyproject.toml (train, data, models, jobs, cli, diagnostics, reservoir) into ``mutants/`` and
writes a seeded random sample of their names, one per line, to ``--out`` (the N first in an order
that hashes each name with the seed). ``report`` reads mutmut's own verdicts for those names (``mutants/**/*.py.meta``, the files ``mutmut results`` reads), takes
out the mutants that ``benchmarks/mutation_equivalent.txt`` shows to be equivalent (one line
each saying why) and prints the table for ``benchmarks/RESULTS.md``: counts per package and
the score killed / (sample - equivalent), a timeout counting as killed as mutmut counts it.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT = ROOT / "benchmarks" / "mutation_equivalent.txt"
DETECTED = {"killed", "timeout", "segfault"}


def verdicts() -> dict[str, object]:
    """Every mutant's name and mutmut's exit code for it (None: not run yet)."""
    found: dict[str, object] = {}
    for meta in sorted((ROOT / "mutants" / "src").rglob("*.py.meta")):
        found.update(json.loads(meta.read_text())["exit_code_by_key"])
    return found


def generate() -> None:
    """Have mutmut write all mutants (its own generation step of ``mutmut run``)."""
    import mutmut.__main__ as mutmut_main
    from mutmut.utils.file_utils import copy_also_copy_files, copy_src_dir

    (ROOT / "mutants").mkdir(exist_ok=True)
    mutmut_main.set_mutant_under_test("mutant_generation")
    copy_src_dir()
    copy_also_copy_files()
    mutmut_main.create_mutants(os.cpu_count() or 2)


def equivalent() -> dict[str, str]:
    """Mutant name -> why it cannot change behaviour, from mutation_equivalent.txt."""
    out = {}
    for line in EQUIVALENT.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, why = line.partition(" ")
            out[name] = why.strip()
    return out


def _rank(seed: int, name: str) -> str:
    """A mutant's place in the seed's random order: a hash of its name, so a change elsewhere in the code
    (new or removed mutants) leaves the rest of the sample as it was."""
    return hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()


def package(name: str) -> str:
    return name.split(".")[1]


def report(sample: list[str]) -> int:
    from mutmut.stats import status_by_exit_code

    codes, same = verdicts(), equivalent()
    missing = [m for m in sample if m not in codes]
    if missing:
        print(f"error: {len(missing)} sampled mutants are not in mutants/ (first: {missing[0]}); "
              "run benchmarks/mutation.sh from the start", file=sys.stderr)
        return 2
    rows: dict[str, Counter] = {}
    for name in sorted(sample, key=package):
        status = "equivalent" if name in same else status_by_exit_code[codes[name]]
        rows.setdefault(package(name), Counter())[status] += 1
    rows["all"] = sum(rows.values(), Counter())
    print("| package | sampled | killed | timeout | survived | no tests | equivalent | other | score |")
    print("|---|---|---|---|---|---|---|---|---|")
    for pkg, c in rows.items():
        n, detected, live = sum(c.values()), sum(c[s] for s in DETECTED), sum(c.values()) - c["equivalent"]
        other = n - detected - c["survived"] - c["no tests"] - c["equivalent"]
        score = f"{100 * detected / live:.1f} %" if live else "-"
        print(f"| {pkg} | {n} | {c['killed'] + c['segfault']} | {c['timeout']} | {c['survived']} | "
              f"{c['no tests']} | {c['equivalent']} | {other} | {score} |")
    left = [m for m in sample if m not in same and status_by_exit_code[codes[m]] not in DETECTED]
    print(f"\nnot detected ({len(left)}):")
    for name in left:
        print(f"  {name}: {status_by_exit_code[codes[name]]}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    s = sub.add_parser("sample", help="write all mutants and a seeded random sample of names")
    s.add_argument("--n", type=int, default=350)
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--seed", type=int, default=0)
    r = sub.add_parser("report", help="the score of a sample from mutmut's verdicts")
    r.add_argument("sample", type=Path)
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    if args.step == "sample":
        generate()
        names = verdicts()
        picked = sorted(sorted(names, key=lambda name: _rank(args.seed, name))[:args.n])
        print(f"{len(picked)} of {len(names)} mutants sampled (seed {args.seed})", file=sys.stderr)
        args.out.write_text("".join(n + "\n" for n in picked))
        return 0
    return report(args.sample.read_text().split())


if __name__ == "__main__":
    sys.exit(main())
