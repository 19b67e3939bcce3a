"""systemd's notify protocol in a few lines of socket code (no dependency).

With ``Type=notify`` systemd passes ``$NOTIFY_SOCKET``; the service sends plain text
datagrams to it: ``READY=1`` once it really works, ``WATCHDOG=1`` regularly when the
unit has ``WatchdogSec=`` (systemd restarts the service if they stop coming), and
``STATUS=...`` lines shown by ``systemctl status``. Outside systemd every call is a
harmless no-op that returns False.
"""

from __future__ import annotations

import os
import socket


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
