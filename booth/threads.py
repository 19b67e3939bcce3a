"""The booth's background threads: started as daemons, and made to yield the CPU.

The generator is built to use every core; the threads beside it (retention, the sync,
printing) lower their own priority so that a guest's photo is never slowed by them.
"""

from __future__ import annotations

import os
import threading
from typing import Callable


def start_daemon(target: Callable[[], None], name: str) -> threading.Thread:
    """``target`` running on a new daemon thread called ``name`` (it never holds up the
    process's exit)."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def yield_cpu(niceness: int) -> None:
    """Give the calling thread the nice value ``niceness`` (Linux keeps one per thread,
    and the processes it starts inherit it); elsewhere, or where the system refuses,
    the thread keeps its priority."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError):
        pass
