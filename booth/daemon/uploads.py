"""Photos sent from guests' phones: checked, decoded and queued — safely.

The upload page is the booth's most exposed surface: anything on the event's Wi-Fi
can send anything. So every upload passes the same gate, cheapest checks first, and
nothing is decoded until the cheap checks pass:

1. the event PIN, if ``[upload] pin`` is set (wrong PINs are throttled per address and
   for all addresses together);
2. the client's rate: at most ``[upload] per_minute`` files a minute per address
   (refused files count too: garbage costs the booth as much as a photo to check;
   :class:`booth.ratelimit.SlidingWindow`);
3. the queue (:mod:`booth.daemon.queue`, which owns the rule): at most ``[upload]
   queue_max`` pictures waiting per address and ``queue_total`` for everybody, so a
   burst of phones cannot fill the Pi's memory;
4. the size in bytes (``max_bytes``; the web server refuses bigger bodies unread);
5. the type, by the file's first bytes (JPEG, PNG, WebP, HEIC), and the pixel count
   from the header (:mod:`booth.vision.images`), so a 30000×30000 "decompression bomb" is
   refused without allocating it;
6. the decode itself, one file at a time (:data:`DECODE_SLOTS`; a busy decoder
   answers "try again in N s" at once) and within ``[upload] decode_mb`` of memory,
   EXIF orientation applied; then the photo is scaled down to :data:`UPLOAD_LONG_SIDE`.

Each client has at most one upload in flight (:meth:`UploadGate.sending`): a phone
that sends a second photo before the first is answered is told to wait.

Every refusal is an :class:`UploadError`: an HTTP 4xx status and one sentence a
guest can act on ("The booth is busy; try again in 12 s."). Nothing is stored
until the daemon has stylized the photo, and the store writes every file whole
(:mod:`booth.daemon.store`), re-encoded from pixels: no EXIF, no GPS position survives.

HEIC (iPhones' default) is decoded with pillow-heif, which has wheels for the Pi
(aarch64) and x86-64.
"""

from __future__ import annotations

import contextlib
import ctypes
import hmac
import math
import re
import statistics
import threading
import time
from typing import Any, Callable, Iterator

import numpy as np

from booth.vision import images
from booth.config import UploadSettings
from booth.errors import UploadError, UploadRefused
from booth.ratelimit import FailureThrottle, SlidingWindow
from booth.words import N_

#: Uploads are scaled down to this long side before they wait in the queue: the
#: pipeline frames at most 512 px crops out of it (a face a quarter of the photo
#: wide still gets full detail), and a waiting photo holds 2048×1536×3 = 9 MB
#: instead of a 48 MP phone photo's 144 MB.
UPLOAD_LONG_SIDE = 2048
#: Files decoded at the same time. Decoding a 40 MP photo briefly takes a few
#: hundred MB; one at a time keeps the Pi's memory bounded whatever phones send.
DECODE_SLOTS = 1
#: "Try again in N s" when the decoder is busy: a request never waits for it (a
#: waiting request would hold one of the web server's few threads), and a 40 MP
#: photo takes a second or two to read on a Pi.
DECODE_RETRY_S = 3
#: Room for the multipart envelope and the PIN field around the photo's bytes.
FORM_SLACK_BYTES = 64 * 1024
#: Wrong PINs: this many per address per minute, then a pause; and this many from all
#: addresses together (a crowd of addresses guessing is an attack, not a typo).
PIN_TRIES_PER_MINUTE = 5
PIN_TRIES_TOTAL = 30
#: Seconds one photo takes when the booth has no figures yet (for "try again in N s").
DEFAULT_SECONDS_PER_PHOTO = 5.0

#: ISO-BMFF brands of HEIF still images (iPhone photos say "heic").
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_TICKET = re.compile(r"^[A-Za-z0-9_-]{22,64}$")


def request_limit(settings: UploadSettings) -> int:
    """Largest request body the upload endpoint reads: one photo plus the form around it."""
    return settings.max_bytes + FORM_SLACK_BYTES


def safe_name(filename: str | None) -> str:
    """A file name fit to repeat back in a message (no path, no control characters)."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if len(name) > 60:
        name = name[:28] + "…" + name[-28:]
    return name or "photo"


def is_heic(data: bytes) -> bool:
    """True for an HEIF/HEIC still image (by its ``ftyp`` box, not its name)."""
    return len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in _HEIC_BRANDS


def megabytes(n: int) -> str:
    """12000000 -> "12 MB", 200000 -> "0.2 MB"."""
    return f"{n / 1e6:.1f}".rstrip("0").rstrip(".") + " MB"


def _too_many_pixels(name: str, width: int, height: int, max_pixels: int) -> UploadError:
    return UploadError(413, N_("%(name)s: %(width)s×%(height)s pixels is too large; the booth takes "
                               "photos up to %(most)s megapixels."),
                       values={"name": name, "width": width, "height": height,
                               "most": f"{max_pixels / 1e6:.0f}"})


def read_photo(data: bytes, settings: UploadSettings, name: str = "photo") -> np.ndarray:
    """Check and decode one uploaded file into an upright RGB array, scaled down to
    :data:`UPLOAD_LONG_SIDE`, within ``[upload] decode_mb`` of memory.
    Raises :class:`UploadError` (413, 415 or 400)."""
    if not data:
        raise UploadError(400, N_("%(name)s: the file is empty."), values={"name": name})
    if len(data) > settings.max_bytes:
        raise UploadError(413, N_("%(name)s is %(size)s; the booth takes photos up to %(most)s."),
                          values={"name": name, "size": megabytes(len(data)),
                                  "most": megabytes(settings.max_bytes)})
    options: dict[str, Any] = dict(max_pixels=settings.max_pixels, name=name, max_side=UPLOAD_LONG_SIDE,
                   budget_bytes=settings.decode_mb * 1_000_000)
    if is_heic(data):
        decode = images.decode_heic
    else:
        kind = images.sniff_type(data)
        if kind is None:  # images.decode_image says which format it was, in one sentence
            try:
                images.decode_image(data, max_pixels=settings.max_pixels, name=name)
            except images.ImageError as exc:  # ... and HEIC is welcome here
                raise UploadError(415, f"{exc}.".replace("JPEG, PNG or WebP", "JPEG, PNG, WebP or HEIC")) from None
            raise UploadError(415, N_("%(name)s: not a JPEG, PNG, WebP or HEIC photo."), values={"name": name})
        declared = images.header_size(data, kind)
        if declared is None:  # nothing is decoded whose size is not known first
            raise UploadError(400, N_("%(name)s: damaged %(kind)s file (no picture size in its header)."),
                              values={"name": name, "kind": kind})
        if declared[0] * declared[1] > settings.max_pixels:
            raise _too_many_pixels(name, *declared, settings.max_pixels)
        decode = images.decode_image
    try:
        rgb = decode(data, **options)
    except images.ImageError as exc:
        status = 413 if "too large" in str(exc) or "to read" in str(exc) else 400
        raise UploadError(status, f"{exc}.") from None
    return images.resize_long_side(rgb, UPLOAD_LONG_SIDE)


def release_freed_memory() -> None:
    """Give the memory of a big decode back to the system (glibc only; else nothing).

    Pillow allocates a decoded image in 16 MB blocks; freed on a web server thread,
    they stay in that thread's malloc arena, and the booth would keep the high-water
    mark of every 40 MP photo ever sent (measured: +235 MB per 6000×6000 PNG).
    ``malloc_trim`` returns the free pages of every arena (a millisecond or two).
    """
    global _malloc_trim
    if _malloc_trim is None:
        try:
            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim: Any = None  # libc's malloc_trim once looked up, False where there is none


class UploadGate:
    """Per-client limits and the decoder slot, shared by every upload request.

    ``booth`` is the daemon's Booth (``queue``, ``submit_upload``, ``upload_status``,
    ``stats``, ``health``, ``store``): the queue's limits are checked here before the
    photo is decoded, and again, under the queue's lock, when it is queued (two
    phones may pass the first check at once). ``clock`` is injectable so tests can
    step time.
    """

    def __init__(self, booth, clock: Callable[[], float] = time.monotonic) -> None:
        self.booth = booth
        self.settings: UploadSettings = booth.settings.upload
        self._lock = threading.Lock()
        self._files = SlidingWindow(self.settings.per_minute, 60.0, clock=clock)
        self._wrong_pins = FailureThrottle(PIN_TRIES_PER_MINUTE, PIN_TRIES_TOTAL, clock=clock)
        self._decoder = threading.BoundedSemaphore(DECODE_SLOTS)
        self._sending: set[str] = set()  # clients with an upload being handled

    @contextlib.contextmanager
    def sending(self, client: str) -> Iterator[None]:
        """Hold ``client``'s one upload in flight; a second one at the same time is a 429."""
        with self._lock:
            if client in self._sending:
                raise UploadError(429, N_("Your previous photo is still being sent; try again in "
                                          "%(wait)s s."), DECODE_RETRY_S, {"wait": DECODE_RETRY_S})
            self._sending.add(client)
        try:
            yield
        finally:
            with self._lock:
                self._sending.discard(client)

    # --- the cheap checks, before the body is looked at ----------------------------------
    def check_pin(self, client: str, pin: str | None, *, trusted: bool = False) -> None:
        """The event PIN (if any); the organiser (``trusted``) needs none."""
        expected = self.settings.pin
        if not expected or trusted:
            return
        with self._lock:
            wait = self._wrong_pins.retry_after(client)
            if wait:
                raise UploadError(429, N_("Too many wrong PINs; try again in %(wait)s s."), wait,
                                  {"wait": wait})
            if pin and hmac.compare_digest(pin.strip().encode(), expected.encode()):
                return
            self._wrong_pins.failed(client)
        raise UploadError(403, N_("That is not the event PIN; ask the host for it.") if pin
                          else N_("Type the event PIN first (the host has it)."))

    def admit(self, client: str) -> None:
        """Count one file for ``client``, or refuse it: rate, queue (429); model, disk (503)."""
        with self._lock:
            wait = self._files.retry_after(client)
            if wait:
                raise UploadError(429, N_("You have sent %(count)s photos this minute; try again in "
                                          "%(wait)s s."), wait, {"count": self.settings.per_minute, "wait": wait})
            ahead, _ = self.booth.queue.in_the_way(client)
            if ahead:
                wait = self.retry_after(ahead)
                busy = (N_("The booth is busy with 1 photo waiting; try again in %(wait)s s.")
                        if ahead == 1 else
                        N_("The booth is busy with %(ahead)s photos waiting; try again in %(wait)s s."))
                raise UploadError(429, busy, wait, {"ahead": ahead, "wait": wait})
            self._files.add(client)
        # The booth's own state, not the guest's fault: 503, like /healthz.
        if not self.booth.health()["model"]["ok"]:
            raise UploadError(503, N_("The booth is not ready for photos yet; try again in 30 s."), 30)
        if not self.booth.store.has_room():
            raise UploadError(503, N_("The booth's memory is full; ask the host."), 60)

    def retry_after(self, photos_ahead: int) -> int:
        """Seconds until about one of ``photos_ahead`` waiting photos is done (2..120)."""
        recent = self.booth.stats().get("press_to_result_ms") or []
        per_photo = statistics.median(recent) / 1e3 if recent else DEFAULT_SECONDS_PER_PHOTO
        return int(min(120, max(2, math.ceil(per_photo * max(1, photos_ahead) / 2))))

    # --- the expensive part ----------------------------------------------------------------
    def decode(self, data: bytes, name: str) -> np.ndarray:
        """:func:`read_photo` in the decoder slot (429 at once when it is busy)."""
        if not self._decoder.acquire(blocking=False):
            raise UploadError(429, N_("The booth is busy reading another photo; try again in "
                                      "%(wait)s s."), DECODE_RETRY_S, {"wait": DECODE_RETRY_S})
        try:
            return read_photo(data, self.settings, name)
        finally:
            release_freed_memory()
            self._decoder.release()

    def submit(self, rgb: np.ndarray, client: str) -> str:
        """Queue the decoded photo with the daemon; returns the ticket."""
        try:
            return self.booth.submit_upload(rgb, client)
        except UploadRefused as exc:
            wait = self.retry_after(self.settings.queue_max)
            raise UploadError(429, f"{str(exc).rstrip('.')}; try again in {wait} s.", wait) from None

    def status(self, ticket: str) -> dict | None:
        """The daemon's status of a ticket ({"state", "photo_id", "message"}), or None."""
        if not _TICKET.match(ticket or ""):
            return None
        return self.booth.upload_status(ticket)
