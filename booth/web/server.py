"""The web app on waitress, at a lower CPU priority than the photo being made.

``serve(app, host, port, threads)`` runs the app with waitress — never Flask's
development server — on a background thread of the daemon and returns the running
:class:`WebServer`, which ``close()`` stops. Its threads yield the CPU to the
generator (:data:`WEB_NICENESS`, :func:`yield_to_photo`); it caps open connections
per client address and keeps a share for the booth's own screen
(:class:`ConnectionLimits`), and long-lived event streams may hold only half of its
threads (:class:`StreamSlots`).
"""

from __future__ import annotations

import collections
import ipaddress
import logging
import os
import threading
import time
from typing import Any, Callable

import waitress
from flask import Flask

from booth.daemon.uploads import request_limit
from booth.web.contract import get_booth

log = logging.getLogger(__name__)

#: Where the app keeps its :class:`StreamSlots` and the event that ends the streams.
STREAMS_KEY = "booth_streams"
STOPPING_KEY = "booth_stopping"


class StreamSlots:
    """Long-lived streams (SSE) each hold a waitress thread: at most half of them are
    given out, so the gallery always has threads left whatever the screens do."""

    def __init__(self, threads: int) -> None:
        self.limit = max(1, threads // 2)
        self.active = 0
        self._cond = threading.Condition()

    def acquire(self) -> bool:
        with self._cond:
            if self.active >= self.limit:
                return False
            self.active += 1
            return True

    def release(self) -> None:
        with self._cond:
            self.active -= 1
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every stream has ended; False after ``timeout`` seconds."""
        with self._cond:
            return self._cond.wait_for(lambda: self.active == 0, timeout)


#: How much the web server yields to the generator (a ``nice`` increment for its
#: threads), for requests already running when a photo starts or held longer than
#: ``yield_to_photo_ms`` (see :func:`yield_to_photo`, which does most of the work).
#: A guest standing at the booth waits for the generator; a phone waits for a
#: thumbnail. Measured without that wait (yield_to_photo_ms = 0), with tests/test_load.py on the
#: 2-core dev machine (50 phones, cycles back to back, 3 runs each): at +10 the
#: pages' p99 was 200-265 ms and the cycle's median grew 13-39%; at +19 the p99 rose
#: to 340-450 ms with no better cycle; at +5 the cycle grew 14-70%; at 0, 40-50%.
WEB_NICENESS = 10


def yield_to_photo(wsgi_app: Callable, between_photos: threading.Event, max_wait_s: float) -> Callable:
    """Wrap ``wsgi_app`` so a request that arrives while the booth is making a photo
    waits for the photo (at most ``max_wait_s``) before any work is done for it.

    A guest at the booth waits for the generator, which is built to use every core;
    fifty phones browsing the gallery meanwhile slowed the photo by 25-31% on the
    2-core dev machine, and by -5..+4% with this wait (``tests/test_load.py``; the
    phones' p99 went from 44 to 80-130 ms). A phone hardly notices a fraction of a
    second more on a page, and the backlog is served while the result shows.
    Answers already being sent (the kiosk's event stream) go on as they are.
    """
    if max_wait_s <= 0:
        return wsgi_app

    def waiting_app(environ: dict, start_response: Callable) -> Any:
        between_photos.wait(max_wait_s)
        return wsgi_app(environ, start_response)

    return waiting_app


#: Connections one guest address may hold open at once: a phone's browser opens up
#: to six per site; more is a script holding sockets (slow senders) to lock others out.
CONNECTIONS_PER_CLIENT = 16
#: Connections all guests together may hold; waitress's limit is this plus
#: :data:`KIOSK_CONNECTIONS`, kept for the booth's own screen (loopback), so a crowd
#: (or an attack) that fills the guests' share never locks out the kiosk or /healthz.
GUEST_CONNECTIONS = 450
KIOSK_CONNECTIONS = 50


class ConnectionLimits:
    """Open connections per guest address, and the guests' share of all of them. The
    Pi itself (loopback: the kiosk, the organiser's tools) is limited only by
    waitress's total, of which the guests can never take the last
    :data:`KIOSK_CONNECTIONS`."""

    def __init__(self, per_client: int = CONNECTIONS_PER_CLIENT, guests: int = GUEST_CONNECTIONS) -> None:
        self.per_client = per_client
        self.guests = guests
        self.open: collections.Counter[str] = collections.Counter()
        self.guests_open = 0
        self.refused = 0
        self._lock = threading.Lock()

    @staticmethod
    def is_kiosk(address: str) -> bool:
        try:
            return ipaddress.ip_address(address).is_loopback
        except ValueError:
            return False

    def admit(self, address: str) -> bool:
        """Count a new connection from ``address``; False when it must be refused."""
        kiosk = self.is_kiosk(address)
        with self._lock:
            if not kiosk and (self.open[address] >= self.per_client or self.guests_open >= self.guests):
                self.refused += 1
                return False
            self.open[address] += 1
            self.guests_open += 0 if kiosk else 1
            return True

    def release(self, address: str) -> None:
        with self._lock:
            self.open[address] -= 1
            if self.open[address] <= 0:
                del self.open[address]
            if not self.is_kiosk(address):
                self.guests_open -= 1


#: What a refused connection reads before it is closed.
TOO_MANY_CONNECTIONS = (b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\n"
                        b"Content-Type: text/plain\r\nContent-Length: 48\r\n\r\n"
                        b"Too many open connections; try again in 5 s.\r\n\r\n")


def limited_channels(channel_class: type, limits: ConnectionLimits) -> Callable:
    """A stand-in for waitress's channel class that first asks ``limits``: a refused
    connection gets a one-line 503 (sent if the socket takes it at once) and is closed."""

    class LimitedChannel(channel_class):  # type: ignore[misc, valid-type]
        def __init__(self, server: Any, sock: Any, addr: Any, *args: Any, **kwargs: Any) -> None:
            self.client_address = addr[0] if isinstance(addr, tuple) else str(addr)
            self.counted = True
            super().__init__(server, sock, addr, *args, **kwargs)

        def del_channel(self, map: Any = None) -> None:  # every way a channel closes ends here
            if self.counted:
                self.counted = False
                limits.release(self.client_address)
            super().del_channel(map)

    def open_channel(server: Any, sock: Any, addr: Any, *args: Any, **kwargs: Any) -> Any:
        address = addr[0] if isinstance(addr, tuple) else str(addr)
        if not limits.admit(address):
            try:
                sock.send(TOO_MANY_CONNECTIONS)
            except OSError:
                pass
            sock.close()
            return None
        return LimitedChannel(server, sock, addr, *args, **kwargs)

    return open_channel


class WebServer:
    """A waitress server running on its own thread; ``close()`` stops it.

    The server, its loop and its worker threads all live at a lower CPU priority
    (:data:`WEB_NICENESS`): they are created by a thread that first lowered its own
    priority, and Linux threads inherit it from the thread that creates them.
    """

    def __init__(self, app: Flask, host: str, port: int, threads: int) -> None:
        self.app = app
        app.extensions[STREAMS_KEY] = StreamSlots(threads)
        self._options = dict(host=host, port=port, threads=threads)
        self.limits = ConnectionLimits()
        self._server: Any = None
        self._created = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="booth-web", daemon=True)
        self._closed = False

    def _create(self) -> Any:
        server = waitress.create_server(
            self.app, **self._options,
            ident="booth",
            max_request_body_size=body_limit(self.app),
            # An idle phone connection is dropped after this long; SSE streams send a
            # heartbeat more often, so they stay open.
            channel_timeout=60,
            # Read on while a request runs, so a client that closes its end is seen at
            # once (environ["waitress.client_disconnected"]): an event stream whose
            # kiosk reloaded frees its slot and thread instead of holding them ~45 s.
            channel_request_lookahead=1,
            # Room for a crowd (see ConnectionLimits for who gets which share), and poll()
            # rather than select() so more than 1024 descriptors never break the loop.
            connection_limit=GUEST_CONNECTIONS + KIOSK_CONNECTIONS,
            asyncore_use_poll=True,
            clear_untrusted_proxy_headers=True,
        )
        server.channel_class = limited_channels(server.channel_class, self.limits)
        # "Task queue depth is N" for every busy moment would flood the journal (and the
        # SD card) during a rush; real trouble still shows as errors.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        return server

    def _run(self) -> None:
        lower_thread_priority(WEB_NICENESS)
        try:
            self._server = self._create()
        except BaseException as exc:  # e.g. the port is taken: raised again by start()
            self._error = exc
            return
        finally:
            self._created.set()
        try:
            self._server.run()
        except Exception:  # a closed map while the loop polls; nothing left to serve
            if not self._closed:
                log.exception("web: server stopped unexpectedly")

    @property
    def host(self) -> str:
        return self._server.effective_host

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> "WebServer":
        """Start serving; raises what creating the server raised (a taken port...)."""
        self._thread.start()
        self._created.wait()
        if self._error is not None:
            raise self._error
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Stop accepting, end the event streams, and stop the worker threads."""
        if self._closed or self._server is None:
            return
        self._closed = True
        self.app.extensions[STOPPING_KEY].set()
        server = self._server
        # The streams notice booth_stopping within a second and end cleanly; then the
        # loop flushes what they wrote, and every channel (the listening socket
        # included) is closed so the asyncore loop ends.
        self.app.extensions[STREAMS_KEY].wait_idle(timeout)
        flush_until = time.monotonic() + 0.5
        while time.monotonic() < flush_until and any(
                getattr(channel, "total_outbufs_len", 0) for channel in list(server._map.values())):
            time.sleep(0.02)
        server.task_dispatcher.shutdown(timeout=timeout)
        for channel in list(server._map.values()):
            try:
                channel.close()
            except Exception:
                pass
        self._thread.join(timeout)


def lower_thread_priority(increment: int) -> None:
    """Make the calling thread (and the threads it creates later) yield the CPU to
    the rest of the process. Linux keeps a nice value per thread; elsewhere, or
    if the system refuses, the thread simply keeps its priority."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(),
                       min(19, os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) + increment))
    except (AttributeError, OSError) as exc:
        log.debug("web: could not lower the web threads' priority: %s", exc)


def body_limit(app: Flask) -> int:
    """The web server's own cap on request bodies: the app's small limit, or, when
    phone uploads are on, a little more than the upload route reads (so that route
    answers too-large photos itself, in a sentence, and nothing bigger is buffered)."""
    with app.app_context():
        upload = get_booth().settings.upload
    return request_limit(upload) + 1_000_000 if upload.enabled else app.config["MAX_CONTENT_LENGTH"]


def serve(app: Flask, host: str, port: int, threads: int) -> WebServer:
    """Serve ``app`` with waitress on a background thread; returns the running server.

    ``port`` 0 picks a free port (``server.port`` tells which).
    """
    return WebServer(app, host, port, threads).start()
