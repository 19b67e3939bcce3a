"""How the web app answers what went wrong: one line, in JSON for scripts and in a
small page (``error.html``) for people, and the app's error handlers that use it."""

from __future__ import annotations

import logging

from typing import Mapping

from flask import Flask, Response, abort, jsonify, render_template, request
from flask_babel import gettext
from werkzeug.exceptions import HTTPException

from booth.words import N_

log = logging.getLogger(__name__)

#: Paths whose clients are scripts: errors answer them in JSON.
JSON_PATHS = ("/api/", "/upload/status/")
#: Headers of an HTTP error that the client needs to act on (405's Allow, 429's and
#: 503's Retry-After, 401's WWW-Authenticate).
KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


def wants_json() -> bool:
    """The client of this request is a script (an API path, or it asked for JSON)."""
    path = request.path
    return (path.startswith(JSON_PATHS) or path in ("/healthz", "/events")
            or request.accept_mimetypes.best == "application/json")


def request_fields() -> Mapping:
    """The fields a client sent: a JSON object body, else the form. A JSON body that is
    not an object (a list, a string, a number) is a 400 with one line, never a 500."""
    data = request.get_json(silent=True)
    if data is None:  # no JSON, or not parseable as JSON: the form (maybe empty)
        return request.form
    if not isinstance(data, dict):
        abort(400, N_("The request body must be a JSON object (or a form)."))
    return data


def error_response(code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """One short line for the client: JSON for scripts, a small page for people; a line
    marked for translation (:func:`booth.words.N_`) in the client's language."""
    message = gettext(message.split("\n")[0])
    if wants_json():
        response = jsonify(error=message)
    else:
        response = Response(render_template("error.html", code=code, message=message),
                            mimetype="text/html")
    response.status_code = code
    response.headers.update(headers or {})
    return response


def http_error(exc: HTTPException) -> Response:
    """An ``abort(...)`` or a routing error, with its description as the line."""
    original = exc.get_response().headers
    headers = {name: original[name] for name in KEPT_HEADERS if original.get(name)}
    return error_response(exc.code or 500, exc.description or exc.name, headers)


def unexpected_error(exc: Exception) -> Response:
    """A bug: logged with its traceback; the client reads a sentence, never the details."""
    log.exception("web: unexpected error on %s %s", request.method, request.path)
    return error_response(500, N_("Something went wrong on the booth; please try again."))


def register_error_pages(app: Flask) -> None:
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)
