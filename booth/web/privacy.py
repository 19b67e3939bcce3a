"""The privacy page (``/privacy``) and the one-line notice, both written from the config.

What the booth keeps, for how long, who can see it and how to delete it follow from
``[privacy]``, ``[web]``, ``[upload]`` and ``[print]``: the page says exactly what
this booth does, never what a template assumed. With ``[privacy] consent`` set to
"notice" or "ask", every phone page (``base.html``) and the kiosk's idle screen
carry :func:`notice_line` and a link here.
"""

from __future__ import annotations

from flask import Blueprint, render_template

from booth.config import Settings
from booth.web.contract import get_booth

bp = Blueprint("privacy", __name__)


def duration(hours: int) -> str:
    """12 -> "12 hours", 48 -> "2 days", 24 -> "1 day"."""
    if hours % 24 == 0:
        days = hours // 24
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{hours} hour{'s' if hours != 1 else ''}"


def shows_notice(settings: Settings) -> bool:
    return settings.privacy.consent in ("notice", "ask")


def notice_line(settings: Settings) -> str:
    """One short sentence: where the photos stay and when they go."""
    results = settings.privacy.keep_results_hours
    if results:
        return f"Your photos stay on this booth and are deleted after {duration(results)}."
    return "Your photos stay on this booth; you can delete yours from its page."


def contact(settings: Settings) -> str:
    return settings.privacy.contact or "the host of the event"


def facts(settings: Settings) -> list[tuple[str, list[str]]]:
    """The privacy page's sections: (heading, sentences), from the config."""
    privacy, web = settings.privacy, settings.web
    kept = ["The photo the booth takes (or the one you send from your phone), its anime "
            "portrait, a small thumbnail, and any other style you ask for.",
            "No names, no e-mail addresses, no location: the pictures carry no metadata. "
            "The live camera picture on the screen is never saved."]
    if settings.print.enabled:
        kept.append("A print's page, until the printer has printed it.")
    originals = (f"Originals (the unedited photo): deleted {duration(privacy.keep_originals_hours)} "
                 "after they were taken." if privacy.keep_originals_hours else
                 "Originals (the unedited photo): kept as long as the photo.")
    results = (f"Anime portraits and everything else of a photo: deleted "
               f"{duration(privacy.keep_results_hours)} after it was taken."
               if privacy.keep_results_hours else
               "Anime portraits: kept until you or the host delete them.")
    how_long = [originals, results,
                "Everything stays on this booth; nothing is sent to the internet."]
    who = ["You: your photo's own link (its QR code) shows it"
           + (", with the original." if web.originals in ("owner", "public") else ".")]
    who.append("Everyone on the booth's Wi-Fi sees the anime portraits in the gallery."
               if web.gallery_index == "public" else
               "There is no public gallery: a photo is seen only through its link.")
    if web.originals == "public":
        who.append("Whoever has a photo's page link also sees the original.")
    who.append(f"The host ({contact(settings)}) can see and download every photo.")
    delete = ["Open your photo's link (scan its QR code again) and press \"Delete my photo\": "
              "it is gone at once, with every copy the booth keeps.",
              f"Or ask {contact(settings)} to delete it."]
    sections = [("What the booth keeps", kept), ("For how long", how_long),
                ("Who can see it", who), ("How to delete yours", delete)]
    if privacy.consent == "ask":
        sections.insert(0, ("Asking first", [
            "Before each photo the booth asks: press the button for yes; hold it, or just "
            "wait, for no, and no picture is taken."
            + (" Sending a photo from your phone asks too." if settings.upload.enabled else "")]))
    return sections


@bp.get("/privacy")
def page():
    settings = get_booth().settings
    return render_template("privacy.html", sections=facts(settings), line=notice_line(settings))


@bp.app_context_processor
def _notice() -> dict:
    settings = get_booth().settings
    return {"privacy_notice": notice_line(settings) if shows_notice(settings) else ""}
