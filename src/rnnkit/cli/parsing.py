"""The parser every ``rnnkit`` subcommand gets: one-line usage errors that list the valid options."""
from __future__ import annotations

import argparse


class StrictParser(argparse.ArgumentParser):
    """Rejects unknown flags with the list of valid ones; every usage error is one line, exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            valid = sorted(o for a in self._actions for o in a.option_strings if o.startswith("--"))
            self.error(f"unrecognized arguments: {' '.join(extras)}; valid options are {', '.join(valid)}")
        return namespace, extras
