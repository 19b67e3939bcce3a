"""The guest's choices at the kiosk: the style (``/api/styles``, ``/api/style`` and
samples) and the mode — photo, strip or boomerang (``/api/modes``, ``/api/mode``).

The kiosk shows the current style's label and a small sample; the ←/→ keys (and the
style button or a long press of the main button, see :mod:`booth.devices.button`) change it
between photos. Like the trigger, changing it is for the booth's own screen (the Pi
itself), the admin session or the admin password.
"""

from __future__ import annotations

from typing import Callable

from flask import Blueprint, abort, jsonify, send_file

from booth.vision import styles
from booth.web.access import bearer_token, check_password, csrf_ok, has_admin_session, is_admin, is_loopback
from booth.web.contract import get_booth
from booth.web.responses import request_fields

bp = Blueprint("styles", __name__)


@bp.get("/api/styles")
def choice():
    if not is_admin():
        abort(403, "The style choice is shown on the booth's own screen.")
    return jsonify(get_booth().style_choice())


@bp.post("/api/style")
def choose():
    """Set the next photo's style: ``name=...`` or ``step=1`` / ``step=-1``."""
    booth = get_booth()
    return _set_choice("style", booth.choose_style, booth.style_choice)


@bp.get("/api/modes")
def mode_choice():
    if not is_admin():
        abort(403, "The choice of photo, strip or boomerang is shown on the booth's own screen.")
    return jsonify(get_booth().mode_choice())


@bp.post("/api/mode")
def choose_mode():
    """Set what the next press makes: ``name=photo|strip|boomerang`` or ``step=1`` / ``-1``."""
    booth = get_booth()
    return _set_choice("mode", booth.choose_mode, booth.mode_choice)


def _set_choice(what: str, choose_one: Callable[[str | None, int], str | None],
                current: Callable[[], dict]):
    """A guest's choice (``what``: "style" or "mode") from the booth's own screen, the
    admin session or the admin password: the booth's new choice as JSON, or why not."""
    allowed = is_loopback() or (has_admin_session() and csrf_ok()) \
        or check_password(bearer_token())
    if not allowed:
        return jsonify(error=f"the {what} is chosen at the booth"), 403
    data = request_fields()
    name = data.get("name") or None
    try:
        step = int(data.get("step", 0))
    except (TypeError, ValueError):
        return jsonify(error="step must be an integer"), 400
    if name is None and step == 0:
        return jsonify(error=f"give a {what} name or a step"), 400
    try:
        chosen = choose_one(name, step)
    except ValueError as exc:
        return jsonify(error=str(exc)), 400
    if chosen is None:
        return jsonify(error=f"a photo is being taken; choose the {what} before the next one",
                       **current()), 409
    return jsonify(current())


@bp.get("/styles/<name>/sample.jpg")
def sample(name: str):
    if not is_admin():
        abort(403, "Style samples are shown on the booth's own screen.")
    if name not in get_booth().styles_available():
        abort(404)
    path = styles.sample_path(name)
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype="image/jpeg", max_age=3600)
