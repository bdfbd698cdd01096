"""``rnnkit esn``: flags -> the ESN job (:mod:`rnnkit.jobs.esn`) -> NRMSE lines and a plot;
``--search``: a grid of reservoirs (:mod:`rnnkit.jobs.esn_search`) -> a ranked table, a heatmap, the best."""
from __future__ import annotations

import argparse

PLOT = "runs/esn.png"  # the default plot; runs/ is created for it (a plot named by the user needs its folder)
HELP = "fit an echo state network on Mackey-Glass, NARMA10 or a CSV column; print NRMSE and plot"
EXAMPLES = """
Examples:
  rnnkit esn --task mackey-glass --units 400               # writes runs/esn.png
  rnnkit esn --task narma10 --units 200 --leak-rate 0.3
  rnnkit esn --task csv --csv prices.csv --column close --generate 50
  rnnkit esn --search --spectral-radius 0.8:1.2:5 --leak-rate 0.3:1:5 --ridge 1e-10,1e-8,1e-6,1e-4 --seeds 2
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    from dataclasses import fields

    from rnnkit._fields import help_of
    from rnnkit.cli.parsing import add_config_flags
    from rnnkit.jobs.esn import ESNJobConfig

    p = subparsers.add_parser("esn", help=HELP, description=HELP + "." + EXAMPLES,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    from rnnkit.jobs.esn_search import GRID_FIELDS

    grid_help = {f.name: f for f in fields(ESNJobConfig) if f.name in GRID_FIELDS}
    add_config_flags(p, ESNJobConfig, {name: None for name in GRID_FIELDS}, keep_defaults=True)
    for name, f in grid_help.items():
        p.add_argument("--" + name.replace("_", "-"), dest=name, default=str(f.default), metavar="VALUES",
                       help=f"{help_of(f)} (default: {f.default}); with --search a list 'v1,v2' or a range "
                            "'low:high:count'")
    p.add_argument("--search", action="store_true",
                   help="search the grid given by the list/range flags over --seeds reservoir seeds (from --seed)")
    p.add_argument("--seeds", type=int, default=1, help="--search: reservoir seeds per configuration (default: 1)")
    p.add_argument("--out", default="runs/esn-search",
                   help="--search: folder for search.csv, search.png, best.json (default: runs/esn-search)")
    p.add_argument("--plot", default=PLOT, help=f"PNG to write (default: {PLOT}); 'none' to skip")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default: 1, so the ridge solve sums in one order and the figures "
                        "repeat to the last digit; more threads are faster for thousands of units)")
    return p


def run(args: argparse.Namespace) -> int:
    from dataclasses import fields
    from pathlib import Path

    from rnnkit.cli.parsing import fail, output_file, set_threads
    from rnnkit.jobs import esn as job

    from rnnkit.jobs.esn_search import GRID_FIELDS, grid_values

    try:
        set_threads(args.threads)
        grids = {name: grid_values(name, getattr(args, name)) for name in GRID_FIELDS}
        if args.search:
            return _search(args, grids)
        many = [f"--{n.replace('_', '-')}" for n, v in grids.items() if len(v) > 1]
        if many:
            raise ValueError(f"{', '.join(many)}: several values need --search")
        values = {f.name: getattr(args, f.name) for f in fields(job.ESNJobConfig)}
        config = job.ESNJobConfig(**{**values, **{n: v[0] for n, v in grids.items()}})
        series, model = job.build(config)
        if args.plot != "none":
            if args.plot != PLOT:  # the default's folder, runs/, is made when it is written
                output_file(args.plot, ".png")
            import matplotlib  # noqa: F401  (refuse before the fit, not after it)
    except ImportError:
        return fail("esn", "plotting needs matplotlib: pip install 'rnnkit[plot]' (or --plot none)")
    except (ValueError, TypeError) as exc:
        return fail("esn", str(exc))
    fitted = job.fit(config, series, model)
    for line in job.report(config, series, fitted):
        print(line)
    if args.plot != "none":
        try:
            if args.plot == PLOT:
                Path(PLOT).parent.mkdir(exist_ok=True)
            job.plot(args.plot, fitted, f"{config.task}, {config.units} units")
        except OSError as exc:
            return fail("esn", f"cannot write the plot {args.plot!r}: {exc.strerror or exc}")
        print(f"wrote {args.plot}")
    return 0


def _search(args: argparse.Namespace, grids: dict) -> int:
    import sys
    from dataclasses import fields

    from tqdm import tqdm

    from rnnkit.cli.parsing import fail, output_dir
    from rnnkit.jobs import esn as job
    from rnnkit.jobs import esn_search

    if args.seeds < 1:
        return fail("esn", f"--seeds: expected an int >= 1, got {args.seeds}")
    values = {f.name: getattr(args, f.name) for f in fields(job.ESNJobConfig) if f.name not in grids}
    config = job.ESNJobConfig(**values)  # the untuned one: the job's defaults for the searched fields
    out = output_dir(args.out)
    count = args.seeds * len(grids["spectral_radius"]) * len(grids["leak_rate"]) * len(grids["input_scaling"])
    print(f"searching {count * len(grids['ridge'])} fits: {count} reservoirs x {len(grids['ridge'])} ridge values, "
          f"{config.units} units")
    with tqdm(total=1, unit="step", desc="driving the reservoirs", leave=False,
              disable=not sys.stderr.isatty()) as bar:
        def progress(done, total):
            bar.total = total
            bar.n = done
            bar.refresh()
        report = esn_search.run_search(config, grids, args.seeds, progress)
    for line in esn_search.summary(report, count):
        print(line)
    for path in esn_search.write(report, out):
        print(f"wrote {path}")
    return 0
