"""The booth's web server: the HDMI kiosk screen, the guests' gallery, the admin page.

``create_app(booth)`` builds the Flask app (one blueprint per audience) around the
daemon's booth (what the app needs of it: :class:`booth.web.contract.BoothForWeb`);
``serve(app, host, port, threads)`` runs it with waitress on a background thread of
the daemon (:mod:`booth.web.server`) and returns a server to ``close()``::

    app = create_app(booth)
    server = serve(app, settings.web.host, settings.web.port, settings.web.threads)
    ...
    server.close()

Blueprints:

* :mod:`booth.web.kiosk` — ``/kiosk`` (the HDMI screen), ``/events`` (server-sent
  events), ``/preview.jpg`` (live camera), ``/api/trigger``;
* :mod:`booth.web.gallery` — ``/`` (gallery), ``/p/<id>`` (a photo's page, its images
  and QR codes), ``/theme.css``;
* :mod:`booth.web.api` — ``/api/photos``, ``/healthz``, ``/metrics``;
* :mod:`booth.web.admin` — ``/admin`` (login, statistics, delete, zip download);
* :mod:`booth.web.upload` — ``/upload`` (guests send photos from their phones);
* :mod:`booth.web.captive` — on the booth's own hotspot, the phones' connectivity
  checks (a redirect) and ``/welcome``, the page their sign-in sheet opens.
* :mod:`booth.web.prints` — ``/admin/print/...`` (print, cancel, preview the page).
* :mod:`booth.web.privacy` — ``/privacy`` (what is kept, how long, who sees it, how to
  delete), and the notice line every page carries with ``[privacy] consent``.

Before any view, :func:`booth.web.access.check_request` refuses requests for another
host name (421) and state-changing requests from another site (403); errors answer
in one line (:mod:`booth.web.responses`).

Files are only ever reached by a photo id looked up in the store: the ``<photo_id:...>``
URL converter accepts nothing but the store's id alphabet, so no user-supplied path
reaches the file system.
"""

from __future__ import annotations

import secrets
import threading

from flask import Flask, Response
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import BaseConverter

from booth.web import admin, api, captive, gallery, i18n, kiosk, prints, privacy, restyle, share, styles, upload
from booth.ratelimit import FailureThrottle
from booth.web.access import (PASSWORD_TRIES_PER_CLIENT, PASSWORD_TRIES_TOTAL, AdminSessions,
                               check_request, csrf_token, own_hosts)
from booth.web.contract import BoothForWeb, init_app
from booth.web.responses import register_error_pages
from booth.web.server import STOPPING_KEY, STREAMS_KEY, StreamSlots, serve, yield_to_photo

__all__ = ["create_app", "serve"]

#: Largest request body the web server reads (forms and API calls only; phone uploads
#: raise it for their own route).
MAX_REQUEST_BYTES = 64 * 1024

#: Content-Security-Policy: everything from the booth itself, nothing inline, no frames.
CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
#: Headers every answer carries unless its view set its own.
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class PhotoIdConverter(BaseConverter):
    """A photo id as the store makes them: URL-safe base64, 22..64 characters."""

    regex = r"[A-Za-z0-9_-]{22,64}"


def create_app(booth: BoothForWeb) -> Flask:
    """The Flask app for ``booth`` (the daemon's Booth: settings, store, events, ...)."""
    app = Flask(__name__)
    app.config.update(
        # Sessions hold a CSRF token and an admin session's key (see access.AdminSessions);
        # a restart logs the organiser out.
        SECRET_KEY=secrets.token_bytes(32),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        # CSS and JS: phones on a busy Wi-Fi keep them for an hour (HTML is never cached).
        SEND_FILE_MAX_AGE_DEFAULT=3600,
        MAX_FORM_MEMORY_SIZE=MAX_REQUEST_BYTES,
        MAX_FORM_PARTS=50,
    )
    assert isinstance(app.json, DefaultJSONProvider)
    app.json.sort_keys = False  # JSON keys in the order the views write them
    init_app(app, booth)
    i18n.init_app(app)
    app.extensions["booth_throttle"] = FailureThrottle(PASSWORD_TRIES_PER_CLIENT, PASSWORD_TRIES_TOTAL)
    app.extensions["booth_admin_sessions"] = AdminSessions()
    # The share links' host too: the hotspot's DNS may send it here (booth.web.share).
    app.extensions["booth_hosts"] = own_hosts(booth.settings.web.base_url) | {
        host for host in (share.public_host(booth.settings),) if host}
    app.extensions[STOPPING_KEY] = threading.Event()
    app.extensions[STREAMS_KEY] = StreamSlots(booth.settings.web.threads)
    app.url_map.converters["photo_id"] = PhotoIdConverter
    # "//etc/passwd" is simply not found, rather than redirected to a tidier path.
    app.url_map.merge_slashes = False

    # The captive portal first: on the hotspot, the phones' connectivity checks (the only
    # foreign Host names the booth answers) get a redirect to the booth's own address.
    # Then Host and Origin are checked before any view and every other blueprint's hooks.
    app.register_blueprint(captive.bp)
    app.before_request(check_request)
    for module in (kiosk, gallery, api, admin, upload, prints, styles, restyle, privacy, share):
        app.register_blueprint(module.bp)
    # Flask's own way to add a WSGI middleware (mypy sees a method being replaced).
    app.wsgi_app = yield_to_photo(app.wsgi_app, booth.between_photos,  # type: ignore[method-assign]
                                  booth.settings.web.yield_to_photo_ms / 1000)
    app.after_request(add_security_headers)
    register_error_pages(app)

    app.add_template_filter(i18n.timestamp_local, "timestamp_local")
    @app.context_processor
    def _globals() -> dict:
        return {"settings": booth.settings, "title": booth.settings.booth.event_title,
                "csrf_token": csrf_token}

    return app


def add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
