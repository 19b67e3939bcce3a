"""The organiser's print controls: print or reprint a photo, cancel a waiting job, and
preview the print page. The admin page shows them (``_print_panel.html``) when
``[print] enabled``; the kiosk's Print offer goes through ``/api/trigger`` like the
button (see :meth:`booth.daemon.machine.CycleMachine.trigger`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, flash, redirect, request, url_for

from booth.devices.printing import PrintService, render_photo
from booth.errors import PrintRefused
from booth.vision.images import encode_jpeg
from booth.web.access import csrf_ok, is_admin
from booth.web.contract import get_booth

bp = Blueprint("prints", __name__, url_prefix="/admin/print")


def _prints() -> PrintService:
    """The booth's print queue; 404 when printing is off."""
    prints = get_booth().prints
    if prints is None:
        abort(404, "Printing is off: set enabled = true in [print].")
    return prints


def _require_admin_form() -> None:
    """The organiser, with this session's form, sent from this site."""
    if not is_admin():
        abort(403, "This is the organiser's page: log in first.")
    origin = request.headers.get("Origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.host:
        abort(403, "This form was sent from another site.")
    if not csrf_ok():
        abort(400, "This form has expired; reload the page and try again.")


@bp.app_context_processor
def _print_panel() -> dict:
    def print_panel() -> dict | None:
        """What the admin page shows about printing (None when it is off)."""
        prints = get_booth().prints
        if prints is None:
            return None
        return {"printer": prints.health(), "jobs": prints.recent_jobs(), "options": prints.options}
    printing_on = get_booth().prints is not None
    return {"print_panel": print_panel, "printing_on": printing_on}


@bp.post("/<photo_id:photo_id>")
def print_photo(photo_id: str):
    _require_admin_form()
    try:
        _prints().request(photo_id, "admin")
        flash("Sent to the printer.")
    except PrintRefused as exc:
        flash(f"Not printed: {exc}")
    return redirect(url_for("admin.index"))


@bp.post("/cancel/<job_id>")
def cancel(job_id: str):
    _require_admin_form()
    if not _prints().cancel(job_id):
        flash("That print could not be cancelled: it has already printed, failed or been cancelled.")
    else:
        flash("Print cancelled.")
    return redirect(url_for("admin.index"))


@bp.get("/preview/<photo_id:photo_id>.jpg")
def preview(photo_id: str):
    if not is_admin():
        abort(403, "This is the organiser's page: log in first.")
    prints = _prints()
    booth = get_booth()
    try:
        page = render_photo(booth.store, booth.settings, photo_id, prints.overlay)
    except KeyError:
        abort(404, "There is no photo with this id.")
    return Response(encode_jpeg(page, 90), mimetype="image/jpeg")
