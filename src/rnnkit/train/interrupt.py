"""Ctrl-C (SIGINT) or SIGTERM (what schedulers and ``kill`` send) during training: the first asks
for a stop at the end of the current step (and a checkpoint) instead of killing the run; a
second stops at once, the last checkpoint intact."""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


@contextmanager
def stop_on_sigint(trainer):
    """While the block runs, SIGINT or SIGTERM calls ``trainer.request_stop()`` (a second raises KeyboardInterrupt).

    Signal handlers can only be set in the main thread; elsewhere the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.getsignal(s) for s in signals}
    asked = []  # one entry per signal seen

    def handler(signum, frame):
        if asked:  # a second signal stops at once; the last checkpoint stays intact
            raise KeyboardInterrupt
        asked.append(signum)
        trainer.request_stop()
    for s in signals:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s in signals:
            signal.signal(s, previous[s])
