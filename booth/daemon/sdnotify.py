"""systemd's notify protocol in a few lines of socket code (no dependency).

With ``Type=notify`` systemd passes ``$NOTIFY_SOCKET``; the service sends plain text
datagrams to it: ``READY=1`` once it really works, ``WATCHDOG=1`` regularly when the
unit has ``WatchdogSec=`` (systemd restarts the service if they stop coming), and
``STATUS=...`` lines shown by ``systemctl status``, and ``EXTEND_TIMEOUT_USEC=`` for a
start that takes longer than the unit's ``TimeoutStartSec=`` (a cold compile on a Pi 4).
Outside systemd every call is a harmless no-op that returns False.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: A start that still goes on after this long is hung: the extensions stop and systemd's
#: start timeout ends it (then Restart= tries again).
START_LIMIT_S = 1800.0


def notify(message: str) -> bool:
    """Send one notification (e.g. ``"READY=1"``); True if it was delivered."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address or address[0] not in "@/":
        return False
    if address[0] == "@":  # Linux abstract namespace
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            # Never wait: a reader that stopped reading must not stall the booth's loop
            # (the message is dropped instead; the next ping follows soon).
            sock.setblocking(False)
            sock.connect(address)
            sock.send(message.encode("utf-8", "replace"))
        return True
    except OSError:  # no listener, or its queue is full (BlockingIOError)
        return False


def watchdog_interval() -> float | None:
    """Seconds between ``WATCHDOG=1`` pings (half of ``$WATCHDOG_USEC``), or None when off."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) <= 0:
        return None
    if pid.isdigit() and int(pid) != os.getpid():
        return None  # meant for another process
    return int(usec) / 1e6 / 2


@contextmanager
def extending_start(every_s: float = 30.0, limit_s: float = START_LIMIT_S) -> Iterator[None]:
    """While the block runs, ask systemd every ``every_s`` for more start time, for at
    most ``limit_s``: a slow but progressing cold start is not killed by
    ``TimeoutStartSec=`` and restarted forever (its compile cache never written)."""
    done = threading.Event()

    def keep_asking() -> None:
        deadline = time.monotonic() + limit_s
        # Each request covers three intervals, so a late wake-up under load never lapses.
        while not done.is_set() and time.monotonic() < deadline:
            notify(f"EXTEND_TIMEOUT_USEC={int(every_s * 3 * 1_000_000)}")
            done.wait(every_s)

    asking = None
    if os.environ.get("NOTIFY_SOCKET"):
        asking = threading.Thread(target=keep_asking, name="sd-extend-start", daemon=True)
        asking.start()
    try:
        yield
    finally:
        done.set()
        if asking is not None:
            asking.join()
