"""Tasks ended by a ``BaseException``, for a worker started with ``--include`` of this module."""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

from celery import shared_task


@shared_task(name="interrupts.exit")
def exit_task() -> None:
    """Leave through ``sys.exit``, as code that gives up on the process does."""
    sys.exit(3)


@shared_task(name="interrupts.keyboard")
def keyboard_task() -> None:
    """Raise ``KeyboardInterrupt``, as Ctrl+C in a foreground worker does."""
    raise KeyboardInterrupt


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    sys.exit(128 + signum)


@shared_task(name="interrupts.sigterm_handled")
def sigterm_handled_task() -> None:
    """SIGTERM to this pool child while a handler turns it into ``SystemExit`` (an app's own
    handler, or one that flushes logs and then exits)."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(10)


@shared_task(name="interrupts.sigterm")
def sigterm_task() -> None:
    """SIGTERM to this pool child with the default disposition: it dies at once."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(10)
