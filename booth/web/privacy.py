"""The privacy page (``/privacy``) and the one-line notice, both written from the config.

What the booth keeps, for how long, who can see it and how to delete it follow from
``[privacy]``, ``[web]``, ``[upload]`` and ``[print]``: the page says exactly what
this booth does, never what a template assumed. With ``[privacy] consent`` set to
"notice" or "ask", every phone page (``base.html``) and the kiosk's idle screen
carry :func:`notice_line` and a link here.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import gettext as _, ngettext

from booth.config import Settings
from booth.web.contract import get_booth

bp = Blueprint("privacy", __name__)


def duration(hours: int) -> str:
    """12 -> "12 hours", 48 -> "2 days", 24 -> "1 day" (in the page's language)."""
    if hours % 24 == 0:
        return ngettext("%(num)s day", "%(num)s days", hours // 24)
    return ngettext("%(num)s hour", "%(num)s hours", hours)


def shows_notice(settings: Settings) -> bool:
    return settings.privacy.consent in ("notice", "ask")


def notice_line(settings: Settings) -> str:
    """One short sentence: where the photos stay and when they go."""
    results = settings.privacy.keep_results_hours
    if results:
        return _("Your photos stay on this booth and are deleted after %(duration)s.",
                 duration=duration(results))
    return _("Your photos stay on this booth; you can delete yours from its page.")


def contact(settings: Settings) -> str:
    return settings.privacy.contact or _("the host of the event")


def facts(settings: Settings) -> list[tuple[str, list[str]]]:
    """The privacy page's sections: (heading, sentences), from the config."""
    privacy, web = settings.privacy, settings.web
    kept = [_("The photo the booth takes (or the one you send from your phone), its anime "
              "portrait, a small thumbnail, and any other style you ask for."),
            _("No names, no e-mail addresses, no location: the pictures carry no metadata. "
              "The live camera picture on the screen is never saved.")]
    if settings.print.enabled:
        kept.append(_("A print's page, until the printer has printed it."))
    originals = (_("Originals (the unedited photo): deleted %(duration)s after they were taken.",
                   duration=duration(privacy.keep_originals_hours))
                 if privacy.keep_originals_hours else
                 _("Originals (the unedited photo): kept as long as the photo."))
    results = (_("Anime portraits and everything else of a photo: deleted %(duration)s after it "
                 "was taken.", duration=duration(privacy.keep_results_hours))
               if privacy.keep_results_hours else
               _("Anime portraits: kept until you or the host delete them."))
    how_long = [originals, results,
                _("Everything stays on this booth; nothing is sent to the internet.")]
    who = [_("You: your photo's own link (its QR code) shows it, with the original.")
           if web.originals in ("owner", "public") else
           _("You: your photo's own link (its QR code) shows it.")]
    who.append(_("Everyone on the booth's Wi-Fi sees the anime portraits in the gallery.")
               if web.gallery_index == "public" else
               _("There is no public gallery: a photo is seen only through its link."))
    if web.originals == "public":
        who.append(_("Whoever has a photo's page link also sees the original."))
    who.append(_("The host (%(contact)s) can see and download every photo.", contact=contact(settings)))
    delete = [_("Open your photo's link (scan its QR code again) and press \"Delete my photo\": "
                "it is gone at once, with every copy the booth keeps."),
              _("Or ask %(contact)s to delete it.", contact=contact(settings))]
    sections = [(_("What the booth keeps"), kept), (_("For how long"), how_long),
                (_("Who can see it"), who), (_("How to delete yours"), delete)]
    if privacy.consent == "ask":
        asking = _("Before each photo the booth asks: press the button for yes; hold it, or just "
                   "wait, for no, and no picture is taken.")
        if settings.upload.enabled:
            asking += " " + _("Sending a photo from your phone asks too.")
        sections.insert(0, (_("Asking first"), [asking]))
    return sections


@bp.get("/privacy")
def page():
    settings = get_booth().settings
    return render_template("privacy.html", sections=facts(settings), line=notice_line(settings))


@bp.app_context_processor
def _notice() -> dict:
    settings = get_booth().settings
    return {"privacy_notice": notice_line(settings) if shows_notice(settings) else ""}
