"""Who may do what: the booth itself, the organiser, and the guests.

Three kinds of visitor reach the web server:

* **the booth itself** — the kiosk browser on the Pi talks to 127.0.0.1. A loopback
  client is trusted as the organiser: anyone with a shell on the Pi already is one.
  (So never put a reverse proxy *on the Pi* in front of the booth: every request
  would then arrive from loopback.)
* **the organiser** — logged in on the admin page with ``[web] admin_password``
  (a session cookie), or sending it as ``Authorization: Bearer <password>`` or as a
  ``password`` form field (scripts, a second trigger button).
* **guests** — everybody else: their photo's page always, the gallery index only
  when ``[web] gallery_index = "public"``.

Wrong passwords are throttled per client address (:class:`FailureThrottle`), and
forms that change something carry a per-session CSRF token.
"""

from __future__ import annotations

import collections
import hmac
import ipaddress
import secrets
import threading
import time

from flask import current_app, g, request, session
from werkzeug.exceptions import TooManyRequests


def is_loopback() -> bool:
    """True when the request comes from this machine (the kiosk browser)."""
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def _password() -> str:
    return current_app.config["BOOTH"].settings.web.admin_password


def password_matches(candidate: str | None) -> bool:
    """Constant-time check of ``candidate`` against the admin password (never matches when unset)."""
    password = _password()
    if not password or not candidate:
        return False
    return hmac.compare_digest(candidate.encode("utf-8"), password.encode("utf-8"))


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def check_password(candidate: str | None) -> bool:
    """Check a password a client sent, counting wrong ones against its address.

    A client that has guessed wrong too often gets HTTP 429 (with Retry-After),
    whatever it sends, until the window has passed.
    """
    throttle: FailureThrottle = current_app.extensions["booth_throttle"]
    client = request.remote_addr or "?"
    wait = throttle.retry_after(client)
    if wait:
        raise TooManyRequests(f"Too many wrong passwords; try again in {wait} s.", retry_after=wait)
    if password_matches(candidate):
        return True
    if candidate:
        throttle.failed(client)
    return False


def is_admin() -> bool:
    """Loopback, a logged-in session, or the password as a bearer token (checked once
    per request, so one wrong token counts once)."""
    if "booth_admin" not in g:
        if is_loopback() or session.get("admin") is True:
            g.booth_admin = True
        else:
            token = bearer_token()
            g.booth_admin = token is not None and check_password(token)
    return g.booth_admin


def csrf_token() -> str:
    """This session's CSRF token (created on first use), for forms that change things."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(24)
    return token


def csrf_ok() -> bool:
    expected = session.get("csrf")
    given = request.form.get("csrf", "")
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


class FailureThrottle:
    """At most ``limit`` failed password attempts per client address per ``window_s``.

    Memory stays bounded: at most ``max_clients`` addresses are remembered (the
    oldest are forgotten first).
    """

    def __init__(self, limit: int = 5, window_s: float = 60.0, max_clients: int = 1024) -> None:
        self.limit = limit
        self.window_s = window_s
        self._max_clients = max_clients
        self._failures: collections.OrderedDict[str, collections.deque[float]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> collections.deque[float]:
        times = self._failures.get(client)
        if times is None:
            return collections.deque()
        while times and now - times[0] > self.window_s:
            times.popleft()
        return times

    def retry_after(self, client: str) -> int:
        """Seconds until ``client`` may try again (0 = now)."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(client, now)
            if len(times) < self.limit:
                return 0
            return max(1, int(self.window_s - (now - times[0])) + 1)

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            times = self._recent(client, now)
            times.append(now)
            self._failures[client] = times
            self._failures.move_to_end(client)
            while len(self._failures) > self._max_clients:
                self._failures.popitem(last=False)
