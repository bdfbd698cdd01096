"""``rnnkit esn``: flags -> the ESN job (:mod:`rnnkit.jobs.esn`) -> NRMSE lines and a plot."""
from __future__ import annotations

import argparse

PLOT = "runs/esn.png"  # the default plot; runs/ is created for it (a plot named by the user needs its folder)
HELP = "fit an echo state network on Mackey-Glass, NARMA10 or a CSV column; print NRMSE and plot"
EXAMPLES = """
Examples:
  rnnkit esn --task mackey-glass --units 400               # writes runs/esn.png
  rnnkit esn --task narma10 --units 200 --leak-rate 0.3
  rnnkit esn --task csv --csv prices.csv --column close --generate 50
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    from rnnkit.cli.parsing import add_config_flags
    from rnnkit.jobs.esn import ESNJobConfig

    p = subparsers.add_parser("esn", help=HELP, description=HELP + "." + EXAMPLES,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_flags(p, ESNJobConfig, keep_defaults=True)
    p.add_argument("--plot", default=PLOT, help=f"PNG to write (default: {PLOT}); 'none' to skip")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default: 1, so the ridge solve sums in one order and the figures "
                        "repeat to the last digit; more threads are faster for thousands of units)")
    return p


def run(args: argparse.Namespace) -> int:
    from dataclasses import fields
    from pathlib import Path

    from rnnkit.cli.parsing import fail, set_threads
    from rnnkit.jobs import esn as job

    try:
        set_threads(args.threads)
        config = job.ESNJobConfig(**{f.name: getattr(args, f.name) for f in fields(job.ESNJobConfig)})
        series, model = job.build(config)
        if args.plot != "none":
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
