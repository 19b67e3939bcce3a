"""The captive portal of the booth's own Wi-Fi: a phone that joins opens the gallery.

On the booth's hotspot every name resolves to the booth (see :mod:`booth.devices.network`), so
the connectivity check a phone makes right after joining reaches the booth. Each
operating system expects one exact answer from its check URL (Apple: a "Success"
page from captive.apple.com/hotspot-detect.html; Android: an empty 204 from
connectivitycheck.gstatic.com/generate_204; Windows: "Microsoft Connect Test" from
www.msftconnecttest.com/connecttest.txt, or ncsi.txt; Firefox: "success" from
detectportal.firefox.com/canonical.html). Anything else means "a sign-in page is in
the way", so the phone shows its sign-in sheet and follows the answer: a redirect to
the booth's landing page (the newest photos, and the way to find one's own).

Security: the Host headers in :data:`PROBE_HOSTS` are the only foreign names the
booth answers, and only while ``[network] hotspot`` is on; whatever the path, the
answer is the same redirect to the booth's own address (never a page, never anything
that needs the organiser's rights). A Host check placed before the views lets exactly
the requests :func:`is_probe_request` accepts through.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template
from flask.typing import ResponseReturnValue

from booth import qr
from booth.web.access import request_host_name
from booth.web.contract import get_booth
from booth.web.gallery import index_allowed

bp = Blueprint("captive", __name__)

#: The hosts of the operating systems' connectivity checks (and their fallbacks).
PROBE_HOSTS = frozenset({
    # Apple (iOS, iPadOS, macOS)
    "captive.apple.com", "www.apple.com",
    # Android (Google's checks and their fallbacks, used by most makers)
    "connectivitycheck.gstatic.com", "connectivitycheck.android.com", "clients1.google.com",
    "clients3.google.com", "www.google.com", "play.googleapis.com",
    # Windows (NCSI)
    "www.msftconnecttest.com", "www.msftncsi.com",
    # Firefox
    "detectportal.firefox.com",
    # Linux desktops (NetworkManager's checks)
    "nmcheck.gnome.org", "connectivity-check.ubuntu.com",
})

#: The landing page the sign-in sheet opens.
LANDING_PATH = "/welcome"
#: Newest photos on the landing page.
LANDING_PHOTOS = 6


def hotspot_on() -> bool:
    return bool(get_booth().settings.network.hotspot)


def is_probe_request() -> bool:
    """A phone's connectivity check on the booth's hotspot (answered by a redirect)."""
    return hotspot_on() and request_host_name() in PROBE_HOSTS


def landing_url() -> str:
    """The landing page at the booth's own address (never the Host the phone sent)."""
    return qr.base_url(get_booth().settings) + LANDING_PATH


@bp.before_app_request
def answer_connectivity_check() -> ResponseReturnValue | None:
    if is_probe_request():
        return redirect(landing_url(), code=302)
    return None


@bp.get(LANDING_PATH)
def landing():
    booth = get_booth()
    show_photos = index_allowed()
    photos = booth.store.list(limit=LANDING_PHOTOS, offset=0) if show_photos else []
    return render_template("welcome.html", photos=photos, show_photos=show_photos,
                           ssid=booth.settings.network.ssid)
