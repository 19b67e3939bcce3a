"""A photo's static share page: the photo page's look as one plain HTML file that sits
next to the anime portrait in the remote's share/ folder (:mod:`booth.daemon.sync`),
so any static web host — S3, a Nextcloud public link, ``python -m http.server`` —
serves it with no code of the booth's. Its CSS is inline (the booth's own style sheet
and the event's colours); its only other file is ``anime.jpg`` beside it.
"""

from __future__ import annotations

import time
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from booth.config import Settings
from booth.daemon.store import Photo
from booth.web.gallery import theme_css

_HERE = Path(__file__).parent
_ENV = Environment(loader=FileSystemLoader(_HERE / "templates"), autoescape=select_autoescape(["html"]))


def share_page(settings: Settings, photo: Photo) -> str:
    """The share page of ``photo`` (its ``anime.jpg`` in the same folder)."""
    css = (_HERE / "static" / "booth.css").read_text(encoding="utf-8") + theme_css(settings.web)
    taken = time.strftime("%d %b %Y, %H:%M", time.localtime(photo.created))
    return _ENV.get_template("share.html").render(title=settings.booth.event_title, css=css, taken=taken)
