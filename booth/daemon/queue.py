"""The pictures phones asked for, waiting for the booth: uploaded photos to stylize and
stored photos to re-render in another style.

One owner under one lock: admission (``[upload] queue_max`` waiting per client,
``queue_total`` for everybody), the order (first come, first made) and every
ticket's state. The web server's threads put and poll; the booth's main loop takes
and finishes; none of them sees a ticket half-updated.

A ticket goes ``queued`` → ``running`` → ``done`` or ``failed``. Only ``queued``
tickets count against the limits: the one being made holds no place in the line.
An upload's status says ``queued`` until its photo is ready (the phone's page knows
waiting, done and failed); a re-rendering's says ``running`` while it is drawn.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

from booth.errors import UploadRefused

#: Finished tickets remembered for polling phones (the oldest are forgotten first).
KEEP_TICKETS = 1000


@dataclass(frozen=True)
class Restyle:
    """A queued re-rendering of a stored photo in another style."""

    photo_id: str
    style: str


@dataclass
class Ticket:
    client: str
    job: Any  # the upload's RGB array or a Restyle, until the booth takes it
    restyle: bool
    state: str = "queued"
    photo_id: str | None = None
    style: str | None = None
    message: str = ""


class UploadQueue:
    """Admission, order and ticket state of the pictures phones asked for."""

    def __init__(self, per_client: int, total: int) -> None:
        self.per_client = per_client
        self.total = total
        self._lock = threading.Lock()
        self._tickets: OrderedDict[str, Ticket] = OrderedDict()
        self._queued: deque[str] = deque()  # tickets not yet taken, oldest first

    def waiting(self, client: str) -> tuple[int, int]:
        """Pictures not yet started: (``client``'s, everybody's)."""
        with self._lock:
            return self._waiting(client)

    def _waiting(self, client: str) -> tuple[int, int]:
        mine = sum(1 for t in self._queued if self._tickets[t].client == client)
        return mine, len(self._queued)

    def in_the_way(self, client: str) -> tuple[int, bool]:
        """(pictures waiting that keep ``client`` from queueing one more, whether they
        are its own); (0, False) when there is room."""
        with self._lock:
            return self._in_the_way(client)

    def _in_the_way(self, client: str) -> tuple[int, bool]:
        mine, everybody = self._waiting(client)
        if mine >= self.per_client:
            return mine, True
        if everybody >= self.total:
            return everybody, False
        return 0, False

    def put(self, client: str, job: Any) -> str:
        """Queue an upload (an RGB array) or a :class:`Restyle`; returns its ticket.
        Raises :class:`UploadRefused` when ``client`` or everybody has too many waiting."""
        restyle = isinstance(job, Restyle)
        noun = "pictures" if restyle else "photos"
        with self._lock:
            ahead, own = self._in_the_way(client)
            if own:
                raise UploadRefused(f"you already have {ahead} {noun} waiting; please wait for them")
            if ahead:
                raise UploadRefused(f"the booth is busy with {ahead} pictures waiting")
            ticket = secrets.token_urlsafe(16)
            self._tickets[ticket] = Ticket(client, job, restyle,
                                           photo_id=job.photo_id if restyle else None,
                                           style=job.style if restyle else None)
            self._queued.append(ticket)
            self._forget_finished()
        return ticket

    def _forget_finished(self) -> None:
        excess = len(self._tickets) - KEEP_TICKETS
        if excess <= 0:
            return
        finished = [t for t, entry in self._tickets.items() if entry.state in ("done", "failed")]
        for ticket in finished[:excess]:
            del self._tickets[ticket]

    def has_waiting(self) -> bool:
        with self._lock:
            return bool(self._queued)

    def take(self) -> tuple[str, Any] | None:
        """The oldest waiting (ticket, job), now ``running``; None when none waits."""
        with self._lock:
            if not self._queued:
                return None
            ticket = self._queued.popleft()
            entry = self._tickets[ticket]
            job, entry.job, entry.state = entry.job, None, "running"
            return ticket, job

    def finish(self, ticket: str, photo_id: str | None = None) -> None:
        """The picture is made (an upload's new photo is ``photo_id``)."""
        with self._lock:
            entry = self._tickets[ticket]
            entry.state = "done"
            if photo_id is not None:
                entry.photo_id = photo_id

    def fail(self, ticket: str, message: str) -> None:
        """The picture could not be made; ``message`` is for the guest."""
        with self._lock:
            entry = self._tickets[ticket]
            entry.state, entry.message = "failed", message

    def upload_status(self, ticket: str) -> dict | None:
        """{"state": "queued"|"done"|"failed", "photo_id", "message"} of an upload, or None."""
        with self._lock:
            entry = self._tickets.get(ticket)
            if entry is None or entry.restyle:
                return None
            state = "queued" if entry.state == "running" else entry.state
            return {"state": state, "photo_id": entry.photo_id, "message": entry.message}

    def restyle_status(self, ticket: str) -> dict | None:
        """{"state": "queued"|"running"|"done"|"failed", "photo_id", "style", "ahead",
        "message"} of a re-rendering (``ahead``: pictures waiting before it), or None."""
        with self._lock:
            entry = self._tickets.get(ticket)
            if entry is None or not entry.restyle:
                return None
            ahead = 0
            if entry.state == "queued":
                ahead = self._queued.index(ticket)
            return {"state": entry.state, "photo_id": entry.photo_id, "style": entry.style,
                    "ahead": ahead, "message": entry.message}
