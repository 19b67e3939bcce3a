"""A photo's static share page: the photo page's look as one plain HTML file that sits
next to the anime portrait in the remote's share/ folder (:mod:`booth.daemon.sync`),
so any static web host — S3, a Nextcloud public link, ``python -m http.server`` —
serves it with no code of the booth's. Its CSS is inline (the booth's own style sheet
and the event's colours); its only other file is ``anime.jpg`` beside it.

At the venue the same link can lead to the booth: when the hotspot's DNS answers the
public name with the booth's address (it answers every name so), a request for
``<public_url>/<owner key>/`` over plain HTTP is sent on to the photo's page on the booth
(:func:`public_link_at_the_venue`).
"""

from __future__ import annotations

import functools
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Response, redirect, render_template, request
from flask.typing import ResponseReturnValue
from jinja2 import Environment, FileSystemLoader, select_autoescape

from booth import words
from booth.config import Settings
from booth.daemon.store import Photo
from booth.web.access import request_host_name
from booth.web.contract import get_booth
from booth.web.gallery import booth_owner_url, index_allowed, theme_css

_HERE = Path(__file__).parent


@functools.cache
def share_templates(language: str) -> Environment:
    """The templates, speaking ``language`` (rendered by the sync worker, not a request)."""
    env = Environment(loader=FileSystemLoader(_HERE / "templates"), autoescape=select_autoescape(["html"]),
                      extensions=["jinja2.ext.i18n"])
    # jinja2.ext.i18n adds this method to the environment at run time.
    env.install_gettext_translations(words.translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env


def share_page(settings: Settings, photo: Photo) -> str:
    """The share page of ``photo`` (its ``anime.jpg`` in the same folder), in the booth's
    language."""
    language = settings.booth.language
    css = (_HERE / "static" / "booth.css").read_text(encoding="utf-8") + theme_css(settings)
    return share_templates(language).get_template("share.html").render(
        title=settings.booth.event_title, css=css, taken=words.local_time(photo.created, language),
        lang=words.html_lang(language), dir=words.text_direction(language))


bp = Blueprint("share", __name__)


def public_host(settings: Settings) -> str | None:
    """The host name of ``[sync] public_url`` (None without one)."""
    return (urlsplit(settings.sync.public_url).hostname or "").lower().rstrip(".") or None


@bp.before_app_request
def public_link_at_the_venue() -> ResponseReturnValue | None:
    """A share link opened on the booth's own network: on to the photo's page here."""
    settings = get_booth().settings
    host = public_host(settings)
    if host is None or request_host_name() != host:
        return None
    prefix = urlsplit(settings.sync.public_url).path.rstrip("/") + "/"
    key = request.path[len(prefix):].strip("/") if request.path.startswith(prefix) else ""
    photo = get_booth().store.get_by_owner_key(key) if key else None
    if photo is None:
        return Response(render_template("photo_gone.html", show_gallery_link=index_allowed()), 404)
    return redirect(booth_owner_url(photo), code=302)
