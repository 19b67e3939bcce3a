"""The guests' words in their languages: gettext catalogs, read with Babel.

Every sentence a guest reads is written in English in the code and marked for
translation; ``pybabel extract`` (``babel.cfg``) collects the marked ones into
``booth/translations/messages.pot`` and each language's ``.po`` catalog translates them.
The web app reads the catalogs through Flask-Babel (:mod:`booth.web.i18n`); the parts of
the booth that run without a web request (the daemon, the prints) use
:func:`translations` here. Words the daemon sends to a screen are only marked where
they are written (:func:`N_`) and translated where they are shown, in the language of
whoever reads them.

git keeps the ``.po`` files only; the install compiles them to ``.mo`` (``pybabel
compile``). :func:`ensure_compiled` does the same on the fly for a checkout that was
never installed, so the booth never starts speaking English by accident.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO

from babel import Locale, dates
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from booth.errors import UserError

#: The catalogs: <language>/LC_MESSAGES/messages.po (and .mo once compiled).
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
#: The command that compiles them (what the install runs).
COMPILE_COMMAND = ".venv/bin/pybabel compile -d booth/translations"


def N_(text: str) -> str:  # noqa: N802 (gettext's own name for "mark, do not translate yet")
    """Mark ``text`` for translation; it is translated where it is shown."""
    return text


def stale_catalogs(directory: Path = TRANSLATIONS_DIR) -> list[Path]:
    """The .po catalogs whose .mo is missing or older."""
    stale = []
    for po in sorted(directory.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            stale.append(po)
    return stale


def ensure_compiled(directory: Path = TRANSLATIONS_DIR) -> None:
    """Compile every stale catalog (as ``pybabel compile`` would); a read-only checkout
    whose catalogs are not compiled is a :class:`UserError` saying what to run."""
    for po in stale_catalogs(directory):
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name)
        try:
            with po.with_suffix(".mo").open("wb") as target:
                write_mo(target, catalog)
        except OSError as exc:
            raise UserError(f"the translations are not compiled ({exc.strerror}): "
                            f"run {COMPILE_COMMAND}") from exc
    translations.cache_clear()


@functools.cache
def translations(language: str) -> NullTranslations:
    """The compiled catalog of ``language`` (English: the words as written)."""
    return Translations.load(str(TRANSLATIONS_DIR), [language])


def gettext(language: str, text: str) -> str:
    """``text`` in ``language``."""
    return translations(language).gettext(text)


def text_direction(language: str) -> str:
    """"rtl" for a right-to-left language (Arabic), else "ltr"."""
    return Locale.parse(language).text_direction


def html_lang(language: str) -> str:
    """The language as an HTML lang attribute: zh_Hans -> zh-Hans."""
    return language.replace("_", "-")


def local_time(epoch: float, language: str) -> str:
    """A photo's time for a guest, the way their language writes it: day, month, hour
    ("Dec 7, 6:47 PM", "7. Dez., 18:47", "12月7日 18:47")."""
    moment = datetime.fromtimestamp(epoch).astimezone()
    day = dates.format_skeleton("MMMd", moment, locale=language)
    hour = dates.format_time(moment, "short", locale=language)
    joined = str(Locale.parse(language).datetime_formats["short"])  # "{1}, {0}" in English
    return joined.replace("'", "").replace("{1}", day).replace("{0}", hour)


def long_date(epoch: float, language: str) -> str:
    """A photo's day, written out: "December 7, 2026", "7. Dezember 2026", "2026年12月7日"."""
    return dates.format_date(datetime.fromtimestamp(epoch), "long", locale=language)


def extract_style_labels(fileobj: IO[bytes], keywords, comment_tags, options) -> Iterator[tuple]:
    """``pybabel extract``'s reader for the styles' manifest: each ``label`` a guest sees."""
    def labels(table: dict) -> Iterator[str]:
        for key, value in table.items():
            if isinstance(value, dict):
                yield from labels(value)
            elif key == "label" and isinstance(value, str):
                yield value

    for label in labels(tomllib.loads(fileobj.read().decode("utf-8"))):
        yield 0, None, label, ["a style's name, shown to guests"]
