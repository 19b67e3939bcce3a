"""Who may do what: the booth itself, the organiser, and the guests.

Three kinds of visitor reach the web server:

* **the booth itself** — the kiosk browser on the Pi talks to 127.0.0.1. A loopback
  client is trusted as the organiser (anyone with a shell on the Pi already is one),
  but only when it names the booth in its ``Host`` header: a web page the kiosk
  browser loads could otherwise reach the booth through DNS rebinding (a foreign
  name that resolves to 127.0.0.1) and borrow that trust. (Never put a reverse proxy
  *on the Pi* in front of the booth: every request would then arrive from loopback.)
* **the organiser** — logged in on the admin page with ``[web] admin_password``
  (a server-side session that logging out ends), or sending the password as
  ``Authorization: Bearer <password>`` or as a ``password`` form field (scripts, a
  second trigger button).
* **guests** — everybody else: their photo's page always, the gallery index only
  when ``[web] gallery_index = "public"``.

Before any view, :func:`check_request` refuses a request whose ``Host`` is not one
of the booth's own names (:func:`own_hosts`; 421) and a state-changing request sent
by another site (``Origin`` / ``Sec-Fetch-Site``; 403). Only the captive portal's
answers to phones' connectivity checks come before it (:mod:`booth.web.captive`).

Wrong passwords are throttled per client address and for everybody together
(:class:`FailureThrottle`), and forms that change something carry a per-session
CSRF token.
"""

from __future__ import annotations

import collections
import hmac
import ipaddress
import re
import secrets
import socket
import threading
import time
from urllib.parse import urlsplit

from flask import abort, current_app, g, request, session
from werkzeug.exceptions import TooManyRequests

from booth.ratelimit import FailureThrottle
from booth.web.contract import get_booth

#: Methods that change nothing; every other one must come from the booth's own pages.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: ``Sec-Fetch-Site`` values of a request the booth's own page (or a typed URL) sent.
OWN_FETCH_SITES = frozenset({"same-origin", "none"})
#: A Host header: a bracketed IPv6 literal or a DNS name / IPv4 literal, and a port.
_HOST_HEADER = re.compile(r"^(?:\[([0-9a-f:.]{2,45})\]|([a-z0-9_.-]{1,253}))(?::([0-9]{1,5}))?$")
#: Wrong passwords: per client address, and for everybody together, per minute.
PASSWORD_TRIES_PER_CLIENT = 5
PASSWORD_TRIES_TOTAL = 30
#: Logged-in admin sessions kept at once (the oldest is ended first), and their life.
MAX_ADMIN_SESSIONS = 32
ADMIN_SESSION_S = 12 * 3600


# --- Host and Origin ----------------------------------------------------------------------
def parse_host(header: str | None) -> tuple[str, int | None] | None:
    """("booth.local", 8080) from "Booth.local.:8080", ("::1", None) from "[::1]";
    None when the header is missing or is not a host name or address."""
    match = _HOST_HEADER.match((header or "").strip().lower())
    if match is None:
        return None
    name = (match.group(1) or match.group(2)).rstrip(".")
    port = int(match.group(3)) if match.group(3) else None
    if not name or (port is not None and not 0 < port < 65536):
        return None
    return name, port


def is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def own_hosts(base_url: str, hostname: str | None = None) -> frozenset[str]:
    """The names this booth answers to besides any IP address: ``localhost``, the host
    of ``[web] base_url``, the machine's host name and ``<hostname>.local`` (mDNS)."""
    names = {"localhost"}
    configured = urlsplit(base_url).hostname if base_url else None
    if configured:
        names.add(configured.lower().rstrip("."))
    machine = (hostname if hostname is not None else socket.gethostname()).lower().rstrip(".")
    if machine:
        names.update({machine, machine.split(".")[0] + ".local"})
    return frozenset(names)


def is_own_host(name: str, hosts: frozenset[str]) -> bool:
    """True for an IP literal (DNS rebinding needs a name) or one of ``hosts``."""
    return is_ip_literal(name) or name in hosts


def request_host() -> tuple[str, int | None] | None:
    """The request's Host header parsed (:func:`parse_host`)."""
    return parse_host(request.headers.get("Host"))


def request_host_name() -> str | None:
    """The host name the request was sent to, lower case, without port or final dot
    (None when the Host header is missing or malformed)."""
    host = request_host()
    return host[0] if host is not None else None


def has_own_host() -> bool:
    """The request names the booth itself in its Host header."""
    host = request_host()
    return host is not None and is_own_host(host[0], current_app.extensions["booth_hosts"])


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def same_origin() -> bool:
    """The request was sent by one of the booth's own pages, or not by a web page at all
    (a script, a typed address): ``Sec-Fetch-Site`` and ``Origin`` say so when present."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        # A browser's own word, which no page can forge. It decides alone: under the
        # booth's "Referrer-Policy: no-referrer" a browser's form posts say "Origin: null".
        return site.lower() in OWN_FETCH_SITES
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    try:
        parts = urlsplit(origin.strip().lower())
        origin_port = parts.port or _default_port(parts.scheme)
    except ValueError:
        return False
    host = request_host()
    if host is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    return (parts.hostname.rstrip("."), origin_port) == (host[0], host[1] or _default_port(request.scheme))


def check_request() -> None:
    """Refuse, before any view, a request for another host name (421; 400 when the
    Host header is missing or malformed) and a state-changing request that another
    web site sent (403). Registered as the app's first ``before_request``."""
    host = request_host()
    if host is None:
        abort(400, "The request needs a Host header naming the booth.")
    if not is_own_host(host[0], current_app.extensions["booth_hosts"]):
        abort(421, f"This booth does not answer for {host[0]}; open it by its own address.")
    if request.method not in SAFE_METHODS and not same_origin():
        abort(403, "This request came from another web site; use the booth's own page.")


def is_loopback() -> bool:
    """True when the request comes from this machine (the kiosk browser) and names the
    booth in its Host header (a page the kiosk loaded under another name is a guest)."""
    try:
        loopback = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False
    return loopback and has_own_host()


def password_matches(candidate: str | None) -> bool:
    """Constant-time check of ``candidate`` against the admin password (never matches when unset)."""
    password = get_booth().settings.web.admin_password
    if not password or not candidate:
        return False
    return hmac.compare_digest(candidate.encode("utf-8"), password.encode("utf-8"))


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def check_password(candidate: str | None) -> bool:
    """Check a password a client sent, counting wrong ones against its address and
    against everybody's total.

    A client that has guessed wrong too often gets HTTP 429 (with Retry-After),
    whatever it sends, until the window has passed; when all clients together have,
    every client does (many addresses guessing at once is an attack, not a typo).
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


class AdminSessions:
    """Logged-in organisers, kept on the server: the session cookie carries only a
    random key, and logging out forgets the key, so a copied cookie stops working."""

    def __init__(self, limit: int = MAX_ADMIN_SESSIONS, lifetime_s: float = ADMIN_SESSION_S) -> None:
        self.limit = limit
        self.lifetime_s = lifetime_s
        self._started: collections.OrderedDict[str, float] = collections.OrderedDict()
        self._lock = threading.Lock()

    def start(self) -> str:
        key = secrets.token_urlsafe(24)
        with self._lock:
            self._started[key] = time.monotonic()
            while len(self._started) > self.limit:
                self._started.popitem(last=False)
        return key

    def valid(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        with self._lock:
            started = self._started.get(key)
            if started is not None and time.monotonic() - started > self.lifetime_s:
                del self._started[key]
                started = None
        return started is not None

    def end(self, key: object) -> None:
        with self._lock:
            if isinstance(key, str):
                self._started.pop(key, None)


def log_in() -> None:
    """Make this browser's session an organiser's (a fresh session: no fixation)."""
    session.clear()
    session["admin"] = current_app.extensions["booth_admin_sessions"].start()


def log_out() -> None:
    current_app.extensions["booth_admin_sessions"].end(session.get("admin"))
    session.clear()


def has_admin_session() -> bool:
    """The browser is logged in as the organiser (a session the server still knows)."""
    return current_app.extensions["booth_admin_sessions"].valid(session.get("admin"))


def is_admin() -> bool:
    """Loopback, a logged-in session, or the password as a bearer token (checked once
    per request, so one wrong token counts once)."""
    if "booth_admin" not in g:
        if is_loopback() or has_admin_session():
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
    return isinstance(expected, str) and bool(expected) and hmac.compare_digest(given.encode(), expected.encode())
