"""Which language each page speaks, and the words its scripts need.

The booth's own screen (the kiosk, its parts) and the prints speak ``[booth] language``.
A phone gets the language it chose with the switcher at the foot of every page (a
cookie), else the best of its Accept-Language that the booth ships, else the booth's.
Templates mark words with ``_()``/``{% trans %}``, Python with ``gettext``/``N_``
(:mod:`booth.words`); the scripts' words (``_("...")`` in ``static/*.js``, extracted by
``pybabel`` too) and the words the daemon sends to a screen reach the page translated,
as a JSON dict (:func:`script_words`) that ``static/words.js`` reads.
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from babel import Locale
from babel.messages.pofile import read_po
from flask import Blueprint, Flask, redirect, request
from flask.typing import ResponseReturnValue
from flask_babel import Babel, get_locale, gettext

from booth import words
from booth.config import LANGUAGES
from booth.web.contract import get_booth

bp = Blueprint("i18n", __name__)

#: The cookie that keeps a phone's choice of language.
COOKIE = "booth_lang"
#: How long a phone keeps that choice: a long event, and the day after.
COOKIE_MAX_AGE_S = 3 * 24 * 3600
#: Blueprints of the booth's own screen: they speak the booth's language.
SCREEN_BLUEPRINTS = ("kiosk", "styles", "prints")
#: Where the scripts' words and the daemon's come from (paths in the .pot's references).
SCRIPT_SOURCES = (".js", "booth/daemon/", "booth/devices/", "booth/vision/", "manifest.toml")


def init_app(app: Flask) -> None:
    """Flask-Babel on ``app``, reading the compiled catalogs (compiled first if needed)."""
    words.ensure_compiled()
    Babel(app, locale_selector=select_language,
          default_translation_directories=str(words.TRANSLATIONS_DIR))
    app.register_blueprint(bp)
    app.context_processor(template_globals)


def booth_language() -> str:
    return get_booth().settings.booth.language


def accepted_language() -> str | None:
    """The phone's most wanted language the booth ships ("pt-BR" -> pt, "zh-CN" -> zh_Hans)."""
    by_primary = {code.split("_")[0]: code for code in LANGUAGES}
    for wanted, _quality in request.accept_languages:
        tag = wanted.replace("-", "_")
        if tag in LANGUAGES:
            return tag
        primary = tag.split("_")[0].lower()
        if primary in by_primary:
            return by_primary[primary]
    return None


def select_language() -> str:
    if request.blueprint in SCREEN_BLUEPRINTS:
        return booth_language()
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return accepted_language() or booth_language()


def current_language() -> str:
    return str(get_locale() or booth_language())


@functools.cache
def language_names() -> list[tuple[str, str]]:
    """(code, the language's own name) for the switcher: Deutsch, 日本語, العربية ..."""
    return [(code, Locale.parse(code).get_display_name(code) or code) for code in LANGUAGES]


@functools.cache
def script_msgids() -> tuple[str, ...]:
    """The messages of the scripts and the daemon, read from the extracted template."""
    with (words.TRANSLATIONS_DIR / "messages.pot").open("rb") as pot:
        catalog = read_po(pot)
    return tuple(message.id for message in catalog if message.id and isinstance(message.id, str)
                 and any(source in path for path, _line in message.locations
                         for source in SCRIPT_SOURCES))


def script_words() -> dict[str, str]:
    """The scripts' words in this page's language: {English: translation}."""
    return {msgid: gettext(msgid) for msgid in script_msgids()}


def template_globals() -> dict:
    language = current_language()
    return {"lang": words.html_lang(language), "dir": words.text_direction(language),
            "language": language, "languages": language_names(), "script_words": script_words}


def local_next(target: str) -> str:
    """Only a path on this booth (never another site) to go back to."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@bp.get("/language/<code>")
def choose(code: str) -> ResponseReturnValue:
    """The switcher: remember the phone's language and go back to the page."""
    back = redirect(local_next(request.args.get("next", "/")), code=303)
    if code in LANGUAGES:
        back.set_cookie(COOKIE, code, max_age=COOKIE_MAX_AGE_S, samesite="Lax", httponly=True)
    return back


def timestamp_local(epoch: int) -> str:
    """The ``timestamp_local`` filter: a photo's time in the page's language."""
    return words.local_time(epoch, current_language())


