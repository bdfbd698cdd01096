"""Ctrl-C during training: the first asks for a stop at the end of the current step (and a
checkpoint) instead of killing the run; a second stops at once, the last checkpoint intact."""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


@contextmanager
def stop_on_sigint(trainer):
    """While the block runs, SIGINT calls ``trainer.request_stop()`` (a second one raises KeyboardInterrupt).

    Signal handlers can only be set in the main thread; elsewhere the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    asked = []  # one entry per Ctrl-C seen

    def handler(signum, frame):
        if asked:  # a second Ctrl-C stops at once; the last checkpoint stays intact
            raise KeyboardInterrupt
        asked.append(signum)
        trainer.request_stop()
    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
