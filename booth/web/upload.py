"""Guests send their own photos from their phones: ``/upload``.

Only when ``[upload] enabled = true`` (otherwise every route here is a 404).

* ``GET /upload`` — the page: take a selfie or pick several photos, watch them go
  up (progress bars), and get each anime result with its link and QR code.
* ``POST /upload`` — one photo per request (multipart field ``photo``, ``pin``
  when the event has one, and ``consent=yes`` with ``[privacy] consent = "ask"``). Answers 202 ``{"ticket", "status"}`` once the photo is
  queued; every refusal of what was sent is a 4xx with ``{"error": "<one sentence>"}``
  (and ``Retry-After`` when waiting helps: 429 "busy, try again in N s"); while the
  booth itself cannot take photos (model not loaded, disk full) it is a 503 with a
  sentence and ``Retry-After``. Without JavaScript the plain form works too:
  the answer is a redirect to the waiting page.
* ``GET /upload/status/<ticket>`` — JSON ``{"state": "queued"|"done"|"failed",
  "photo_id", "page", "qr", "message"}`` for the page's polling (``page`` and ``qr``
  carry the photo's owner key: the uploader may see the original).
* ``GET /upload/wait/<ticket>`` — the waiting page without JavaScript: refreshes
  itself, then redirects to the photo's page.

The checks themselves (PIN, limits, bytes, type, pixels, decoding) are in
:mod:`booth.daemon.uploads`; this module only speaks HTTP. The app's body limit stays small
for every other route: this blueprint raises it for its own requests only (and the
web server's own limit is raised just enough, see :func:`booth.web.server.body_limit`).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import (Blueprint, Response, abort, current_app, jsonify, redirect, render_template,
                   request, url_for)
from flask_babel import gettext
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import RequestEntityTooLarge

from booth.daemon.uploads import UploadGate, megabytes, request_limit, safe_name
from booth.errors import UploadError
from booth.web.access import is_admin
from booth.web.contract import get_booth
from booth.web.gallery import OWNER_KEY_PARAM
from booth.web.responses import error_response, wants_json
from booth.words import N_

bp = Blueprint("upload", __name__)
log = logging.getLogger(__name__)

#: Multipart parts an upload may have: the photo, the PIN, the consent, and a little slack.
MAX_PARTS = 4
#: Werkzeug's multipart decoder holds one 64 KiB read plus what may be the start of a
#: boundary under the form-memory limit, file parts included: at the app's 64 KiB, a
#: photo whose bytes put a line break near the end of a read was refused as too large.
#: A PIN is still far shorter than this.
UPLOAD_FORM_MEMORY = 64 * 1024 + 1024


#: Two first requests at once must not make two gates (each with its own limits).
_GATE_LOCK = threading.Lock()


def _gate() -> UploadGate:
    """The app's one :class:`UploadGate` (made on the first upload request)."""
    with _GATE_LOCK:
        gate = current_app.extensions.get("booth_upload_gate")
        if gate is None:
            gate = current_app.extensions["booth_upload_gate"] = UploadGate(get_booth())
        return gate


def _refusal(code: int, message: str, retry_after: int | None = None) -> Response:
    return error_response(code, message, {"Retry-After": str(int(retry_after))} if retry_after else None)


@bp.before_request
def _only_when_enabled():
    settings = get_booth().settings.upload
    if not settings.enabled:
        abort(404, N_("Uploading photos is switched off at this event."))
    # This route alone reads photo-sized bodies (Flask >= 3.1: per request).
    request.max_content_length = request_limit(settings)
    request.max_form_parts = MAX_PARTS
    request.max_form_memory_size = UPLOAD_FORM_MEMORY


@bp.errorhandler(UploadError)
def _upload_error(exc: UploadError):
    # One line per refusal: the organiser sees in the journal who sends what.
    log.info("upload refused client=%s status=%d: %s", request.remote_addr, exc.status, exc.message)
    # The guest's language: the marked sentence, filled in (error_response translates the rest).
    message = gettext(exc.template, **exc.values) if exc.values else exc.message
    return _refusal(exc.status, message, exc.retry_after)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge):
    if (request.content_length or 0) <= (request.max_content_length or 0):
        # Not the size: too many parts, or a form field far longer than a PIN.
        return _upload_error(UploadError(413, N_("That is not an upload the booth understands; "
                                                 "send one photo (and the PIN) at a time.")))
    limit = get_booth().settings.upload.max_bytes
    return _upload_error(UploadError(413, gettext("That photo is too large; the booth takes photos "
                                                  "up to %(size)s.", size=megabytes(limit))))


@bp.get("/upload")
def page():
    settings = get_booth().settings
    return render_template("upload.html", upload=settings.upload,
                           pin_required=bool(settings.upload.pin) and not is_admin(),
                           consent_required=settings.privacy.consent == "ask",
                           max_size=megabytes(settings.upload.max_bytes),
                           public=settings.web.gallery_index == "public")


@bp.post("/upload")
def send():
    gate = _gate()
    client = request.remote_addr or "?"
    with gate.sending(client):  # before the body is parsed: one upload per client at a time
        return _send(gate, client)


def _send(gate: UploadGate, client: str) -> ResponseReturnValue:
    gate.check_pin(client, request.form.get("pin"), trusted=is_admin())
    if get_booth().settings.privacy.consent == "ask" and request.form.get("consent") != "yes":
        raise UploadError(400, N_("Tick the box to say the booth may use your photo, then send it."))
    files = [f for f in request.files.getlist("photo") if f.filename]
    if not files:
        raise UploadError(400, N_("Choose a photo to send."))
    if len(files) > 1:
        raise UploadError(400, N_("Send one photo at a time."))
    gate.admit(client)
    name = safe_name(files[0].filename)
    data = files[0].stream.read(gate.settings.max_bytes + 1)
    rgb = gate.decode(data, name)
    ticket = gate.submit(rgb, client)
    log.info("upload queued client=%s ticket=%s %dx%d", client, ticket[:6], rgb.shape[1], rgb.shape[0])
    if not wants_json():
        return redirect(url_for("upload.wait", ticket=ticket), code=303)
    response = jsonify(ticket=ticket, status=url_for("upload.status", ticket=ticket))
    response.status_code = 202
    return response


def _owner_page(photo_id: str, endpoint: str = "gallery.photo_page", **values: Any) -> str:
    """The uploaded photo's page (or its QR code) with its owner key: the ticket is the
    guest's own."""
    photo = get_booth().store.get(photo_id)
    key: dict[str, Any] = {OWNER_KEY_PARAM: photo.owner_key} if photo is not None and photo.owner_key else {}
    return url_for(endpoint, photo_id=photo_id, **values, **key)


def _status_or_404(ticket: str) -> dict:
    status = _gate().status(ticket)
    if status is None:
        abort(404, N_("There is no upload with this ticket (the booth may have restarted)."))
    return status


@bp.get("/upload/status/<ticket>")
def status(ticket: str):
    status = _status_or_404(ticket)
    photo_id = status.get("photo_id")
    page = _owner_page(photo_id) if photo_id else None
    qr = _owner_page(photo_id, "gallery.qr_code", kind="svg") if photo_id else None
    return jsonify(state=status["state"], photo_id=photo_id, page=page, qr=qr,
                   message=status.get("message") or "")


@bp.get("/upload/wait/<ticket>")
def wait(ticket: str):
    status = _status_or_404(ticket)
    if status["state"] == "done":
        return redirect(_owner_page(status["photo_id"]), code=303)
    if status["state"] == "failed":
        return _refusal(422, status.get("message") or N_("The booth could not stylize this photo."))
    return render_template("upload.html", waiting=True, upload=get_booth().settings.upload,
                           pin_required=False, max_size="", public=False)
