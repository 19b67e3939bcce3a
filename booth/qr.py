"""QR codes that take a guest from the booth's screen to their photo's page.

Every QR code the booth shows or serves encodes one URL, built in one place::

    photo_url(settings, photo_id) == base_url(settings) + "/p/" + photo_id

``base_url`` is ``[web] base_url`` from the config when it is set. When it is empty
and the booth runs its own Wi-Fi (``[network] hotspot``), it is the booth's address on
that network (``[network] address``, e.g. ``http://10.42.0.1:8080``). Otherwise the
booth guesses the address phones can reach: the primary IPv4 address of the machine
(the one its default route leaves from) and ``[web] port``. The admin page shows the
guess, so the organiser can check it before guests start scanning.

The kiosk also shows a Wi-Fi QR code for ``[network] ssid`` (:func:`wifi_payload`):
a phone on mobile data must first join the booth's network to open those URLs.
"""

from __future__ import annotations

import io
import socket

import segno

from booth.config import Settings

#: Medium error correction: survives a glare spot on the HDMI screen, stays small.
_ERROR_LEVEL = "m"


def primary_ipv4() -> str:
    """The IPv4 address this machine's default route leaves from, or 127.0.0.1.

    Connecting a UDP socket sends nothing; it only asks the kernel which local
    address it would use, so this works offline and never blocks.
    """
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("10.255.255.255", 1))
        address = probe.getsockname()[0]
    except OSError:  # no route at all (no network yet)
        address = "127.0.0.1"
    finally:
        probe.close()
    return address if address != "0.0.0.0" else "127.0.0.1"


def base_url(settings: Settings) -> str:
    """The configured base URL; else the hotspot's address, or http://<primary IPv4>:<port>."""
    configured = settings.web.base_url.rstrip("/")
    if configured:
        return configured
    host = settings.network.address if settings.network.hotspot else primary_ipv4()
    return f"http://{host}:{settings.web.port}"


def base_url_is_detected(settings: Settings) -> bool:
    """True when the base URL is a guess (the admin page asks the organiser to check it)."""
    return not settings.web.base_url and not settings.network.hotspot


def photo_url(settings: Settings, photo_id: str) -> str:
    """The absolute URL of a photo's page: what its QR code encodes."""
    return f"{base_url(settings)}/p/{photo_id}"


def share_url(settings: Settings, owner_key: str) -> str:
    """The public address of a photo's static share page (``[sync] public_url``; the
    share folder is named by the photo's owner key: see :mod:`booth.daemon.sync`)."""
    return f"{settings.sync.public_url.rstrip('/')}/{owner_key}/"


def svg(url: str, *, dark: str = "#000000", light: str = "#ffffff") -> bytes:
    """The QR code of ``url`` as a scalable SVG (viewBox only, sized by CSS)."""
    code = segno.make(url, error=_ERROR_LEVEL)
    out = io.BytesIO()
    code.save(out, kind="svg", border=4, dark=dark, light=light, omitsize=True,
              xmldecl=False, title=url)
    return out.getvalue()


def png(url: str, *, scale: int = 10) -> bytes:
    """The QR code of ``url`` as a black-on-white PNG (``scale`` pixels per module)."""
    code = segno.make(url, error=_ERROR_LEVEL)
    out = io.BytesIO()
    code.save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def _wifi_escape(text: str) -> str:
    """Backslash before the characters the Wi-Fi QR format gives a meaning to."""
    return "".join("\\" + c if c in '\\;,":' else c for c in text)


def wifi_payload(ssid: str, password: str = "", hidden: bool = False) -> str:
    """The text of a Wi-Fi QR code (the ``WIFI:T:WPA;S:…;P:…;;`` format that phones'
    camera apps offer to join); an open network when ``password`` is empty."""
    parts = [f"T:{'WPA' if password else 'nopass'}", f"S:{_wifi_escape(ssid)}"]
    if password:
        parts.append(f"P:{_wifi_escape(password)}")
    if hidden:
        parts.append("H:true")
    return "WIFI:" + ";".join(parts) + ";;"


def wifi_svg(settings: Settings) -> bytes | None:
    """The QR code that joins ``[network] ssid``, as SVG; None when no network is set."""
    network = settings.network
    if not network.ssid:
        return None
    code = segno.make(wifi_payload(network.ssid, network.password, network.hidden), error=_ERROR_LEVEL)
    out = io.BytesIO()
    code.save(out, kind="svg", border=4, dark="#000000", light="#ffffff", omitsize=True, xmldecl=False)
    return out.getvalue()
