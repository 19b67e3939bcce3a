"""The booth's errors: one place, so every layer can raise them without importing
the layer that reports them (the command line, the web app, the daemon).

Each carries a message already phrased for the person who has to act on it: one line,
saying what was wrong and, where there is one, what to do. The command line prints
:class:`UserError` and the other "the user can fix this" errors as ``booth CMD: message``
with exit status 2, never a traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


class ConfigError(ValueError):
    """A configuration problem, already phrased as one line for the user."""


class WeightsError(RuntimeError):
    """A model-file problem, phrased as one line that says what to do."""


class CameraError(RuntimeError):
    """The camera cannot deliver a frame; the message says why in one line."""


class ImageError(ValueError):
    """A photo that cannot be used, with the reason in one sentence."""


class StoreFull(RuntimeError):
    """The disk is below the free-space floor: new photos are refused."""


class UploadRefused(RuntimeError):
    """An upload cannot be queued now; the message is for the guest."""


class UploadError(Exception):
    """An upload refused: ``status`` (4xx), one sentence, and when to retry (seconds).
    With ``values``, ``template`` is the sentence marked for translation (``%(name)s``
    placeholders) and ``message`` the sentence filled in, in English."""

    def __init__(self, status: int, message: str, retry_after: int | None = None,
                 values: dict | None = None) -> None:
        self.template = message
        self.values = values or {}
        self.message = message % self.values if values else message
        super().__init__(self.message)
        self.status = status
        self.retry_after = retry_after


class NetworkError(Exception):
    """A step of ``booth network apply`` failed; one line for the user."""


class CupsError(RuntimeError):
    """A CUPS command failed; the message is its own one-line reason."""


class PrintRefused(RuntimeError):
    """A print cannot be made (budget spent, unknown photo); the message says why."""


#: The errors the command line turns into one line and exit status 2.
USER_ERRORS = (UserError, ConfigError, WeightsError)
