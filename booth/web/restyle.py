"""A guest's photo in another style, from their phone: "try another style".

* ``POST /p/<id>/restyle`` (form field ``style``) — queue the stored original for
  re-rendering in that style. It waits behind presses at the booth (like uploads) and
  counts against the phone's ``[upload] queue_max``. 202 ``{"ticket", "status"}``;
  without JavaScript a redirect back to the photo's page.
* ``GET /p/<id>/restyle/<ticket>`` — JSON ``{"state": "queued"|"running"|"done"|
  "failed", "style", "ahead", "message"}`` for the page's progress line.
* ``GET /p/<id>/variant/<style>.jpg`` — a finished variant (``?download=1`` to save it).

Each variant is stored as its own file beside the photo (see :meth:`PhotoStore.save_variant`),
complete or absent; the photo page lists them (``_photo_styles.html``).
"""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, redirect, request, send_file, url_for

from booth.errors import UploadRefused
from booth.web.contract import get_booth
from booth.web.responses import error_response, request_fields, wants_json
from booth.words import N_

bp = Blueprint("restyle", __name__)


def photo_styles(photo) -> dict:
    """What the photo page shows: the photo's own style, its variants, and the styles
    it can still be rendered in (label per style)."""
    booth = get_booth()
    choice = booth.style_choice()
    labels = {s["name"]: s["label"] for s in choice["styles"]}
    own = photo.meta.get("style", booth.settings.styles.default)
    variants = booth.store.variants(photo.id)
    return {"own": own, "own_label": labels.get(own, own),
            "variants": [{"style": v, "label": labels.get(v, v)} for v in variants],
            "choices": [{"style": n, "label": label} for n, label in labels.items()
                        if n != own and n not in variants]}


@bp.app_context_processor
def _template_helpers() -> dict:
    return {"photo_styles": photo_styles}


@bp.post("/p/<photo_id:photo_id>/restyle")
def restyle(photo_id: str):
    if get_booth().store.get(photo_id) is None:
        abort(404, N_("There is no photo with this link."))
    style = request_fields().get("style", "")
    try:
        ticket = get_booth().submit_restyle(photo_id, str(style), request.remote_addr or "?")
    except ValueError as exc:
        return error_response(400, str(exc).capitalize() + ".")
    except UploadRefused as exc:
        return error_response(429, str(exc).capitalize() + ".", {"Retry-After": "10"})
    if not wants_json():
        return redirect(url_for("gallery.photo_page", photo_id=photo_id), code=303)
    response = jsonify(ticket=ticket, status=url_for("restyle.status", photo_id=photo_id, ticket=ticket))
    response.status_code = 202
    return response


@bp.get("/p/<photo_id:photo_id>/restyle/<ticket>")
def status(photo_id: str, ticket: str):
    status = get_booth().restyle_status(ticket)
    if status is None or status["photo_id"] != photo_id:
        abort(404, N_("There is no such re-rendering (the booth may have restarted)."))
    variant = (url_for("restyle.variant", photo_id=photo_id, style=status["style"])
               if status["state"] == "done" else None)
    return jsonify(state=status["state"], style=status["style"], ahead=status["ahead"],
                   message=status["message"], variant=variant)


@bp.get("/p/<photo_id:photo_id>/variant/<style>.jpg")
def variant(photo_id: str, style: str):
    path = get_booth().store.variant_path(photo_id, style)
    if path is None:
        abort(404, N_("This photo has no picture in that style yet."))
    name = f"anime-booth-{photo_id[:8]}-{style}.jpg"
    try:
        response = send_file(path, mimetype="image/jpeg", conditional=True, etag=True,
                             max_age=None, download_name=name)
    except FileNotFoundError:
        abort(404, N_("This photo has no picture in that style yet."))
    # A style rendered again replaces its variant: the ETag tells phones it changed.
    response.headers["Cache-Control"] = "private, no-cache"
    if request.args.get("download") == "1":
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
