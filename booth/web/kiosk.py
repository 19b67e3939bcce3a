"""The HDMI screen beside the button: ``/kiosk``, its event stream, preview and trigger.

The kiosk page is one HTML document that never reloads. Its script listens to
``/events`` (server-sent events from the daemon's :class:`~booth.events.EventBus`)
and switches between the screens — idle with the live preview, countdown, capture,
processing, result, friendly error — as ``state`` events arrive. ``health`` events
switch the idle screen to "warming up" (the model loads) or "resting — please ask
the host" (camera, model or disk down): guests never read an organiser's details
(paths, exceptions); those stay on ``/admin`` and ``/healthz``.

The kiosk, the live preview and the event stream are for the booth's own screen:
they need the organiser (the Pi's own browser counts, see :mod:`booth.web.access`).
The stream carries every new photo's id, and the preview is a live camera.
"""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Iterator

from flask import (Blueprint, Response, abort, current_app, jsonify, redirect, render_template,
                   request, send_file, url_for)

from booth import qr
from booth.devices import voice
from booth.web.access import (bearer_token, check_password, csrf_ok, has_admin_session, is_admin,
                               is_loopback)
from booth.web.contract import get_booth
from booth.web.responses import request_fields
from booth.web.server import STOPPING_KEY, STREAMS_KEY

bp = Blueprint("kiosk", __name__)

#: A comment line this often keeps proxies and waitress from dropping an idle stream.
HEARTBEAT_S = 15.0
#: A stream ends after this long; EventSource reconnects at once (and a dead client's
#: thread is never held longer than this).
STREAM_MAX_S = 600.0
#: The browser waits this long before reconnecting after the daemon restarts.
RETRY_MS = 2000
#: How often a quiet stream looks whether its client has left (a kiosk reload): its
#: slot and its web thread are free again within this.
LEFT_CHECK_S = 0.25
#: Holding Space this long on the kiosk keyboard is a hold of the button (no).
HOLD_S = 1.0


#: Why /api/trigger did not start a photo, by Booth.not_ready()'s answer.
NOT_READY_REASONS = {"warming": "the booth is warming up (the model is loading)",
                     "model": "the anime model is not loaded; see /admin",
                     "stuck": "the anime machine is stuck (a model call did not return); see /admin",
                     "camera": "the camera is down; see /admin",
                     "disk": "the disk is full; see /admin"}


@bp.get("/kiosk")
def kiosk():
    if not is_admin():
        return redirect(url_for("admin.login", next="/kiosk"))
    booth = get_booth()
    settings = booth.settings
    wifi_svg = qr.wifi_svg(settings)
    wifi = None if wifi_svg is None else {
        "ssid": settings.network.ssid, "password": settings.network.password,
        # Inline, so the password is only ever sent to the kiosk page (the organiser's).
        "qr": "data:image/svg+xml;base64," + base64.b64encode(wifi_svg).decode()}
    return render_template("kiosk.html", countdown_s=settings.cycle.countdown_s,
                           show_result_s=settings.cycle.show_result_s, wifi=wifi,
                           keyboard=not booth.health()["gpio"].get("real", False),
                           privacy_url=qr.base_url(settings) + url_for("privacy.page"),
                           hold_ms=round(1000 * HOLD_S), voice=voice.kiosk_voice(settings))


@bp.get("/kiosk/voice/<language>/<int:number>.wav")
def spoken_number(language: str, number: int):
    """One number of the spoken countdown, as espeak-ng said it at install."""
    if re.fullmatch(r"[A-Za-z]{2,3}(_[A-Za-z]{2,4})?", language) is None:
        abort(404, "There is no such language.")
    path = voice.voice_file(language, number)
    if not path.is_file():
        abort(404, "This number was not rendered: booth voice render.")
    return send_file(path, mimetype="audio/wav", conditional=True, max_age=3600)


def sse_message(event) -> str:
    """One event in the text/event-stream format (``id``, ``event``, ``data`` lines)."""
    payload = json.dumps({"id": event.id, "kind": event.kind, "data": event.data,
                          "time": event.time}, separators=(",", ":"), default=str)
    return f"id: {event.id}\nevent: {event.kind}\ndata: {payload}\n\n"


@bp.get("/events")
def events():
    if not is_admin():
        abort(403, "The event stream is for the booth's own screen.")
    streams = current_app.extensions[STREAMS_KEY]
    if not streams.acquire():
        response = jsonify(error="too many open event streams; retrying shortly")
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return response
    bus = get_booth().events
    stopping = current_app.extensions[STOPPING_KEY]
    # waitress says when the client has closed its end (it reads ahead on the connection,
    # see booth.web.server): without it a dead stream is noticed only when a write fails.
    client_left = request.environ.get("waitress.client_disconnected", lambda: False)
    # Subscribe before reading the latest state so no change falls in between.
    subscription = bus.subscribe()

    def stream() -> Iterator[str]:
        yield f"retry: {RETRY_MS}\n\n"
        for kind in ("health", "state", "preview"):
            latest = bus.latest(kind)
            if latest is not None:
                yield sse_message(latest)
        started = last_sent = time.monotonic()
        while (not stopping.is_set() and not client_left()
               and time.monotonic() - started < STREAM_MAX_S):
            event = subscription.get(timeout=LEFT_CHECK_S)
            if event is not None:
                yield sse_message(event)
                last_sent = time.monotonic()
            elif time.monotonic() - last_sent >= HEARTBEAT_S:
                yield ": keep-alive\n\n"
                last_sent = time.monotonic()

    released = []

    def release() -> None:  # waitress closes the response however the stream ends
        if not released:
            released.append(True)
            subscription.close()
            streams.release()

    response = Response(stream(), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    response.call_on_close(release)
    return response


@bp.get("/preview.jpg")
def preview():
    if not is_admin():
        abort(403, "The live camera is shown on the booth's own screen only.")
    frame = get_booth().preview_jpeg()
    if frame is None:
        response = jsonify(error="no preview frame yet")
        response.status_code = 503
        response.headers["Retry-After"] = "1"
        return response
    return Response(frame, mimetype="image/jpeg", headers={"Cache-Control": "no-store"})


@bp.get("/kiosk/shot/<int:index>.jpg")
def shot(index: int):
    """A strip's shot as it lands (the kiosk's row of shots while the strip is taken)."""
    if not is_admin():
        abort(403, "The shots are shown on the booth's own screen only.")
    frame = get_booth().shot_jpeg(index)
    if frame is None:
        abort(404, "No such shot yet.")
    return Response(frame, mimetype="image/jpeg", headers={"Cache-Control": "no-store"})


@bp.post("/api/preview")
def preview_mode():
    """Turn the live anime mirror on or off (``anime=on|off``) while the booth runs:
    from the Pi itself or the organiser's session (the setting is ``[preview] anime``)."""
    if not (is_loopback() or (has_admin_session() and csrf_ok())):
        abort(403, "Only the organiser can change the preview.")
    mirror = get_booth().mirror
    wanted = request_fields().get("anime") or ""
    wanted = str(wanted).lower()
    if wanted not in ("on", "off", "true", "false", "1", "0"):
        return jsonify(error='anime must be "on" or "off"'), 400
    if mirror is None:
        return jsonify(error="the anime mirror is not running: set [preview] anime = true "
                             "and restart the booth"), 409
    mirror.set_enabled(wanted in ("on", "true", "1"))
    return jsonify(mirror.stats())


@bp.post("/api/cancel")
def cancel():
    """The kiosk keyboard's hold: no to the consent question, or cancel the countdown
    (from the Pi itself or the organiser's session, like the button it stands in for)."""
    if not (is_loopback() or (has_admin_session() and csrf_ok())):
        abort(403, "Only the booth's own screen can answer for the button.")
    cancelled = bool(get_booth().cancel())
    return jsonify(cancelled=cancelled), (200 if cancelled else 409)


@bp.post("/api/trigger")
def trigger():
    """Start a photo: from the Pi itself, with the admin password, or the admin page's form."""
    allowed = is_loopback() or (has_admin_session() and csrf_ok())
    if not allowed:
        given = bearer_token() or request.form.get("password")
        if not check_password(given):
            response = jsonify(error="the admin password is needed to trigger the booth from "
                                     "another machine")
            response.status_code = 401 if not given else 403
            if not given:
                response.headers["WWW-Authenticate"] = 'Bearer realm="booth"'
            return response
    booth = get_booth()
    started = bool(booth.trigger("http"))
    if request.form.get("next") == "admin":
        return redirect(url_for("admin.index"))
    body = {"started": started}
    if not started:
        body["reason"] = NOT_READY_REASONS.get(booth.not_ready(), "a photo is already being taken")
    return jsonify(body), (202 if started else 409)
