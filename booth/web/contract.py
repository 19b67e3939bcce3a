"""What the web app needs from the booth, and how its views reach it.

:class:`BoothForWeb` lists every attribute and method the blueprints (and the upload
gate they hand the booth to, :class:`booth.daemon.uploads.UploadGate`) use: the
daemon's :class:`booth.daemon.booth.Booth` provides them, and so does the tests'
scripted booth (``tests/test_web_contract.py`` checks both, signatures included).

As with Flask's ``get_db``: the app factory stores the booth once
(:func:`init_app`) and every view asks :func:`get_booth` for it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Protocol

import numpy as np
from flask import Flask, current_app

from booth.config import Settings
from booth.daemon.events import EventBus
from booth.daemon.queue import UploadQueue
from booth.daemon.store import PhotoStore
from booth.devices.printing import PrintService

if TYPE_CHECKING:  # the mirror module loads OpenVINO; the web app only calls it
    from booth.vision.mirror import Mirror

#: The key of the booth in ``app.extensions``.
EXTENSION_KEY = "booth"


class BoothForWeb(Protocol):
    """The booth as the web app sees it."""

    settings: Settings
    store: PhotoStore
    events: EventBus
    #: Set while no photo is being made: requests wait on it (see booth.web.server).
    between_photos: threading.Event
    #: The live anime mirror, or None when ``[preview] anime`` is off.
    mirror: Mirror | None
    #: The print queue, or None when ``[print] enabled`` is off.
    prints: PrintService | None
    #: The phones' pictures waiting to be made (the upload gate asks it for room).
    queue: UploadQueue

    def trigger(self, source: str = "http") -> bool:
        """Start a photo; False when one is running or the booth is not ready."""
        ...

    def cancel(self) -> bool:
        """The button held: no to the consent question, or cancel the countdown."""
        ...

    def delete_photo(self, photo_id: str, reason: str) -> bool:
        """Delete a photo everywhere (store, print queue, kiosk); False if unknown."""
        ...

    def not_ready(self) -> str | None:
        """Why a press cannot make a photo now ("warming", "model", "stuck", "camera", "disk")."""
        ...

    def health(self) -> dict:
        ...

    def stats(self) -> dict:
        ...

    def preview_jpeg(self) -> bytes | None:
        ...

    def submit_upload(self, rgb: np.ndarray, client: str) -> str:
        """Queue a guest's photo; returns its ticket."""
        ...

    def upload_status(self, ticket: str) -> dict | None:
        ...

    def submit_restyle(self, photo_id: str, style: str, client: str) -> str:
        """Queue a stored photo's re-rendering in ``style``; returns its ticket."""
        ...

    def restyle_status(self, ticket: str) -> dict | None:
        ...

    def styles_available(self) -> list[str]:
        ...

    def style_choice(self) -> dict:
        """{"current", "styles": [{"name", "label", "role"}]} for the kiosk."""
        ...

    def choose_style(self, name: str | None = None, step: int = 0) -> str | None:
        """Set the next photo's style; None while a photo is being taken."""
        ...

    def mode_choice(self) -> dict:
        """{"current", "modes": [{"name", "label"}], "strip_shots"} for the kiosk."""
        ...

    def choose_mode(self, name: str | None = None, step: int = 0) -> str | None:
        """Set what the next press makes (photo, strip, boomerang); None while busy."""
        ...

    def shot_jpeg(self, index: int) -> bytes | None:
        """A strip's shot as the kiosk shows it while the strip is being taken."""
        ...


def init_app(app: Flask, booth: BoothForWeb) -> None:
    """Make ``booth`` the one every view of ``app`` serves."""
    app.extensions[EXTENSION_KEY] = booth


def get_booth() -> BoothForWeb:
    """The booth the current app serves (inside a request or an app context)."""
    return current_app.extensions[EXTENSION_KEY]
