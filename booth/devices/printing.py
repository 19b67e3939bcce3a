"""Prints: the anime portrait on paper, through the system's CUPS.

Three parts, each usable on its own:

* **the layout** — :func:`render_page` draws one landscape page at the printer's
  resolution (``[print] dpi``; 4x6 in at 300 dpi = 1800 x 1200 px): the anime
  portrait large on the left; on the right the event title and the date, the
  original photo small (``show_original``) and a QR code to the photo's page; the
  organiser's overlay (a PNG with transparency: logo, frame) over everything.
  :func:`page_pdf` makes it a one-page PDF of exactly the paper's size.
* **CUPS** — :class:`Cups` runs CUPS's own commands (``lp``, ``lpstat``,
  ``cancel``). They come with every CUPS install, so the booth's virtualenv needs
  no compiled binding (pycups), and ``CUPS_SERVER`` picks the server like for any
  CUPS client. Their output is read in the C locale.
* **the queue** — :class:`PrintService` takes print requests (the kiosk's Print, the
  ``auto`` mode, the admin page), keeps the paper budget (``max_per_photo``,
  ``max_total``), and does all the slow work on its own low-priority thread:
  rendering waits while a photo is being made, and a stopped or missing printer
  only ever leaves jobs waiting. Each job is ``queued``, ``held``, ``printing``,
  ``done``, ``failed`` or ``canceled``; every change is published as a ``print``
  event, and the printer's state (CUPS's printer-state-reasons in plain words)
  as ``printer``. The job list is kept in ``<data_dir>/prints/jobs.json`` so the
  budget survives a restart.

``booth print-layout PHOTO --out FILE`` renders a page without printing.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import logging
import os
import queue
import re
import secrets
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import segno
from PIL import Image, ImageDraw, ImageFont

from booth import config, qr, threads
from booth.daemon.store import PhotoStore
from booth.errors import CupsError, ImageError, PrintRefused, UserError
from booth.files import fsync_dir, remove_leftovers, write_atomic
from booth.ratelimit import RepeatedWarning
from booth.vision import strip
from booth import words
from booth.words import N_
from booth.vision.images import encode_jpeg, encode_png, load_image

log = logging.getLogger(__name__)

#: Job states; the first three are still waiting for paper.
ACTIVE_STATES = ("queued", "held", "printing")
FINISHED_STATES = ("done", "failed", "canceled")
#: A queued job's message while CUPS itself does not answer.
WAITING_FOR_CUPS = "waiting for CUPS to start"
#: How often the queue asks CUPS about the printer and the waiting jobs.
POLL_S = 1.0
#: While no job waits, the printer's state is asked this often (for the admin page
#: and /healthz).
IDLE_POLL_S = 5.0
#: Rendering waits at most this long for the photo being made to finish.
YIELD_TO_PHOTO_S = 30.0
#: A CUPS command that takes longer than this counts as a CUPS that does not answer.
COMMAND_TIMEOUT_S = 10.0
#: A job asked for while CUPS itself is down (a crash, a restart, an update) waits this
#: long for it, asking every CUPS_RETRY_S, then fails and gives its paper back.
CUPS_WAIT_S = 900.0
CUPS_RETRY_S = 5.0
#: Finished jobs kept in the list (the budget counts them all: see ``sheets_used``).
KEEP_JOBS = 500
#: How much the print thread yields to the generator (a ``nice`` increment).
PRINT_NICENESS = 10

#: CUPS's printer-state-reasons (without -error/-warning/-report) in the host's and
#: the guests' words.
REASON_WORDS = {
    "media-empty": N_("The printer needs paper"),
    "media-needed": N_("The printer needs paper"),
    "media-low": N_("The printer is running low on paper"),
    "media-jam": N_("The paper is jammed"),
    "input-tray-missing": N_("The paper cassette is missing"),
    "marker-supply-empty": N_("The printer is out of ink"),
    "marker-supply-low": N_("The printer is running low on ink"),
    "toner-empty": N_("The printer is out of ink"),
    "toner-low": N_("The printer is running low on ink"),
    "cover-open": N_("The printer's cover is open"),
    "door-open": N_("The printer's door is open"),
    "offline": N_("The printer is off or not connected"),
    "connecting-to-device": N_("The printer is off or not connected"),
    "shutdown": N_("The printer is off or not connected"),
    "paused": N_("The printer is paused"),
    "stopped": N_("The printer is paused"),
    "timed-out": N_("The printer does not answer"),
    "other": N_("The printer reports a problem"),
}
#: Reasons that are only information, not a problem.
HARMLESS_REASONS = {"none", "cups-waiting-for-job-completed", "cups-insecure-filter",
                    "cups-missing-filter"}


def plain_reason(reason: str) -> str:
    """One printer-state-reason ("media-empty-error") in plain words."""
    key = re.sub(r"-(error|warning|report)$", "", reason.strip())
    return REASON_WORDS.get(key, f"The printer reports: {key}")


# --- the layout ---------------------------------------------------------------------
def page_size_px(settings: config.PrintSettings) -> tuple[int, int]:
    """(width, height) of the page in pixels: landscape, at ``settings.dpi``."""
    width_in, height_in, _ = config.PRINT_MEDIA[settings.media]
    return round(width_in * settings.dpi), round(height_in * settings.dpi)


#: The logo's height on the print, as a share of the page's height.
LOGO_SHARE = 0.12
#: Fonts tried in order (Debian and Raspberry Pi OS ship DejaVu); Pillow's own
#: scalable font otherwise.
FONT_FILES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
              "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf")
#: Japanese and Chinese pages need a CJK font (Debian's fonts-noto-cjk, which install.sh
#: puts on the Pi; it has Latin letters and digits too): the collection's face for each.
CJK_FONT_FILE = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
CJK_FACES = {"ja": 0, "zh_Hans": 2}  # Noto Sans CJK JP, SC
#: The words under the QR code.
SCAN_CAPTION = N_("Scan: your photo online")


def _font(size: int, language: str = "en", face: str | None = None) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Japanese and Chinese need the CJK font's glyphs, which a theme's font rarely has.
    if language in CJK_FACES and os.path.exists(CJK_FONT_FILE):
        return ImageFont.truetype(CJK_FONT_FILE, size, index=CJK_FACES[language])
    for path in ((face,) if face else ()) + FONT_FILES:
        if os.path.exists(path):
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def theme_font_file(settings: config.Settings) -> str | None:
    """The file of ``[theme] font`` for the print (a family's bold face, as fontconfig
    picks it), or None for the default fonts."""
    if settings.font_file is not None:
        return str(settings.font_file)
    return family_font_file(settings.theme.font) if settings.theme.font else None


@functools.cache
def family_font_file(family: str) -> str | None:
    """fontconfig's file for ``family``'s bold face, asked once (every print needs it)."""
    if shutil.which("fc-match") is None:
        return None
    found = subprocess.run(["fc-match", "--format", "%{file}", f"{family}:weight=bold"],
                           capture_output=True, text=True, timeout=30).stdout.strip()
    return found or None


def theme_logo(settings: config.Settings) -> Image.Image | None:
    """The ``[theme] logo`` (checked at start) as RGBA at its height on the print, or None."""
    path = settings.logo_path
    if path is None:
        return None
    return logo_image(path, round(page_size_px(settings.print)[1] * LOGO_SHARE))


@functools.cache
def logo_image(path: Path, height: int) -> Image.Image:
    """The logo file drawn ``height`` pixels high (an SVG by cairosvg, which runs no script
    and fetches nothing), made once: every print and preview shows the same one."""
    data = path.read_bytes()
    if config.logo_kind(data) == "svg":
        import cairosvg  # only for SVG logos: it needs the system's cairo library

        data = cairosvg.svg2png(bytestring=data, output_height=height)
    with Image.open(io.BytesIO(data)) as opened:
        logo = opened.convert("RGBA")
    width = max(1, round(logo.width * height / logo.height))
    return logo.resize((width, height), Image.Resampling.LANCZOS)


def text_colour_on_paper(accent: str) -> str:
    """``accent`` darkened until it reads as text on white paper (WCAG AA), the hue kept."""
    r, g, b = (int(accent[i:i + 2], 16) for i in (1, 3, 5))
    colour = accent
    for step in range(21):
        colour = "#" + "".join(f"{round(c * (1 - step / 20)):02x}" for c in (r, g, b))
        if config.contrast(colour, "#ffffff") >= config.TEXT_CONTRAST:
            break
    return colour


def _fitting_font(draw: ImageDraw.ImageDraw, text: str, width: int, size: int, smallest: int,
                  language: str = "en", face: str | None = None):
    """The largest font from ``size`` down to ``smallest`` that fits ``text`` in ``width``."""
    while True:
        font = _font(size, language, face)
        if size <= smallest or draw.textlength(text, font=font) <= width:
            return font
        size = max(smallest, int(size * 0.9))


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> list[str]:
    """``text`` broken into lines at spaces so each fits ``width`` (a long word stays whole)."""
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return lines or [""]


def _fit(rgb: np.ndarray, width: int, height: int) -> Image.Image:
    """``rgb`` scaled to fit inside width x height, aspect kept."""
    h, w = rgb.shape[:2]
    scale = min(width / w, height / h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    method = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return Image.fromarray(cv2.resize(rgb, size, interpolation=method))


def _qr_image(url: str, side: int) -> Image.Image:
    """The QR code of ``url``, with its quiet zone, as a square of at most ``side`` px."""
    matrix = np.array([[0 if dark else 255 for dark in row] for row in segno.make(url, error="m").matrix],
                      dtype=np.uint8)
    matrix = np.pad(matrix, 4, constant_values=255)
    module = max(1, side // matrix.shape[0])  # whole pixels per module: sharp edges
    return Image.fromarray(np.kron(matrix, np.ones((module, module), np.uint8))).convert("RGB")


def render_page(anime: np.ndarray, original: np.ndarray | None, *, title: str, date: str,
                url: str, settings: config.PrintSettings, accent: str = "#ff5c8a",
                overlay: np.ndarray | None = None, language: str = "en",
                logo: Image.Image | None = None, face: str | None = None) -> np.ndarray:
    """One print page (RGB, :func:`page_size_px`) for a photo, its words in ``language``;
    see the module docstring. ``logo`` (RGBA) goes above the title, which is drawn in
    the font file ``face``."""
    width, height = page_size_px(settings)
    margin = round(0.045 * min(width, height))
    page = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(page)

    portrait = _fit(anime, round(width * 0.6) - margin, height - 2 * margin)
    page.paste(portrait, (margin, (height - portrait.height) // 2))
    left = margin + portrait.width + margin
    column = width - margin - left

    y = margin
    if logo is not None:
        if logo.width > column:  # a wide logo: as wide as the column
            logo = logo.resize((column, max(1, round(logo.height * column / logo.width))), Image.Resampling.LANCZOS)
        page.paste(logo, (left, y), logo)
        y += logo.height + margin // 2
    font = _fitting_font(draw, title, column, round(height * 0.075), round(height * 0.04), language, face)
    for line in _wrap(draw, title, font, column)[:3]:
        draw.text((left, y), line, font=font, fill=text_colour_on_paper(accent))
        y += round(font.size * 1.2)
    small = _fitting_font(draw, date, column, round(height * 0.04), round(height * 0.025), language, face)
    y += round(small.size * 0.1)
    draw.text((left, y), date, font=small, fill="#555555")
    y += round(small.size * 1.6)

    code = _qr_image(url, min(column, round(height * 0.33)))
    scan = words.gettext(language, SCAN_CAPTION)
    caption = _fitting_font(draw, scan, column, round(height * 0.03), round(height * 0.02), language, face)
    caption_y = height - margin - round(caption.size * 1.2)
    code_y = caption_y - code.height
    if original is not None and code_y - y > 0.12 * height:
        thumb = _fit(original, column, min(code_y - y - margin // 2, round(height * 0.32)))
        page.paste(thumb, (left + (column - thumb.width) // 2, y))
    page.paste(code, (left + (column - code.width) // 2, code_y))
    draw.text((left + column // 2, caption_y), scan, font=caption,
              fill="#333333", anchor="ma")

    return _with_overlay(np.asarray(page), overlay)


def _with_overlay(page: np.ndarray, overlay: np.ndarray | None) -> np.ndarray:
    """The page with the organiser's transparent PNG laid over it (stretched to the page)."""
    if overlay is None:
        return page
    height, width = page.shape[:2]
    layer = cv2.resize(overlay, (width, height), interpolation=cv2.INTER_AREA)
    return np.asarray(Image.alpha_composite(Image.fromarray(page).convert("RGBA"),
                                            Image.fromarray(layer, "RGBA")).convert("RGB"))


def page_pdf(page: np.ndarray, dpi: int) -> bytes:
    """``page`` as a one-page PDF whose page is the paper's size (pixels / dpi)."""
    out = io.BytesIO()
    Image.fromarray(page).save(out, "PDF", resolution=float(dpi), quality=95)
    return out.getvalue()


def load_overlay(settings: config.Settings) -> np.ndarray | None:
    """The ``[print] overlay`` PNG as RGBA, or None; raises ConfigError naming what is wrong."""
    name = settings.print.overlay
    if not name:
        return None
    path = Path(name).expanduser()
    path = path if path.is_absolute() else settings.base_dir / path
    try:
        with Image.open(path) as image:
            image.load()
            if image.format != "PNG":
                raise config.ConfigError(f"[print] overlay: {path} is not a PNG ({image.format})")
            if "A" not in image.getbands() and "transparency" not in image.info:
                raise config.ConfigError(f"[print] overlay: {path} has no transparency; save it "
                                         "as a PNG with an alpha channel")
            return np.asarray(image.convert("RGBA"))
    except FileNotFoundError:
        raise config.ConfigError(f"[print] overlay: {path} not found") from None
    except (OSError, SyntaxError) as exc:
        raise config.ConfigError(f"[print] overlay: cannot read {path} ({exc})") from None


def render_photo(store: PhotoStore, settings: config.Settings, photo_id: str,
                 overlay: np.ndarray | None = None) -> np.ndarray:
    """The print page of a stored photo (KeyError for an unknown id)."""
    photo = store.get(photo_id)
    anime_path = store.file_path(photo_id, "anime")
    if photo is None or anime_path is None:
        raise KeyError(photo_id)
    strip_path = store.extra_path(photo_id, "strip.jpg")
    if strip_path is not None:  # a photo strip: two strips side by side and a cut line
        side = round(strip.footer_box()[2] * 0.9)
        page = strip.print_sheet(load_image(strip_path), page_size_px(settings.print),
                                 badge=np.asarray(_qr_image(qr.photo_url(settings, photo_id), side)))
        return _with_overlay(page, overlay)
    original_path = store.file_path(photo_id, "original") if settings.print.show_original else None
    original = load_image(original_path) if original_path is not None else None  # None: retention took it
    return render_page(load_image(anime_path), original, title=settings.booth.event_title,
                       date=words.long_date(photo.created, settings.booth.language),
                       url=qr.photo_url(settings, photo_id), settings=settings.print,
                       accent=settings.theme.accent_color, overlay=overlay,
                       language=settings.booth.language, logo=theme_logo(settings),
                       face=theme_font_file(settings))


# --- CUPS ---------------------------------------------------------------------------


class Cups:
    """CUPS's command-line tools for one queue (``printer``; "" = CUPS's default)."""

    def __init__(self, printer: str = "") -> None:
        self.printer = printer

    @staticmethod
    def _run(*args: str) -> str:
        env = dict(os.environ, LC_ALL="C", LANG="C")
        try:
            done = subprocess.run(args, capture_output=True, text=True, env=env,
                                  timeout=COMMAND_TIMEOUT_S)
        except FileNotFoundError:
            raise CupsError(f"{args[0]} not found: install CUPS (sudo apt install cups)") from None
        except subprocess.TimeoutExpired:
            raise CupsError(f"{args[0]} did not answer within {COMMAND_TIMEOUT_S:g} s: is cupsd running?") from None
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            raise CupsError(lines[-1] if lines else f"{args[0]} failed (status {done.returncode})")
        return done.stdout

    def queue_name(self) -> str:
        """The queue jobs go to: ``printer``, or CUPS's default ("" when there is none)."""
        if self.printer:
            return self.printer
        match = re.search(r"system default destination: (\S+)", self._run("lpstat", "-d"))
        return match.group(1) if match else ""

    def submit(self, path: Path, *, copies: int, media: str, title: str) -> str:
        """Send a file to the queue; returns CUPS's job id ("Booth-12")."""
        queue_name = self.queue_name()
        if not queue_name:
            raise CupsError("no printer set: set [print] printer or a CUPS default (lpoptions -d NAME)")
        out = self._run("lp", "-d", queue_name, "-n", str(copies), "-o", f"media={media}",
                        "-t", title, str(path))
        match = re.search(r"request id is (\S+)", out)
        if not match:
            raise CupsError(f"lp gave no job id: {out.strip()}")
        return match.group(1)

    def scheduler_down(self) -> bool:
        """Whether CUPS is installed but cupsd does not answer (stopped, restarting, hung):
        ``lp`` then blames the queue, but a job can wait for it."""
        if shutil.which("lpstat") is None:  # no CUPS at all: nothing to wait for
            return False
        try:
            return "scheduler is not running" in self._run("lpstat", "-r")
        except CupsError:  # no answer in time
            return True

    def printer_status(self) -> dict:
        """``{"name", "ok", "state": idle|printing|paused|missing, "job", "reasons", "message"}``.

        ``reasons`` are CUPS's printer-state-reasons; ``message`` says what they
        mean (empty when all is well).
        """
        try:
            name = self.queue_name()
            if not name:
                return {"name": "", "ok": False, "state": "missing", "job": None, "reasons": [],
                        "message": "No printer: set [print] printer or a CUPS default printer"}
            out = self._run("lpstat", "-l", "-p", name)
        except CupsError as exc:
            return {"name": self.printer, "ok": False, "state": "missing", "job": None,
                    "reasons": [], "message": f"The printer is not available ({exc})"}
        first = out.splitlines()[0] if out else ""
        job = re.search(r"now printing (\S+?)\.", first)
        state = "paused" if " disabled since" in first else "printing" if job else "idle"
        alerts = re.search(r"^\s*Alerts:\s*(.*)$", out, re.MULTILINE)
        reasons = [r for r in re.split(r"[\s,]+", alerts.group(1).strip()) if r] if alerts else []
        if state == "paused" and not any(r.startswith(("paused", "stopped")) for r in reasons):
            reasons.append("paused")
        problems = [r for r in reasons if r not in HARMLESS_REASONS]
        words = list(dict.fromkeys(plain_reason(r) for r in problems))
        return {"name": name, "ok": not problems, "state": state,
                "job": job.group(1) if job else None, "reasons": reasons,
                "message": "; ".join(words)}

    def jobs(self, which: str) -> dict[str, str]:
        """CUPS's jobs on the queue (``which``: "not-completed" or "completed"): id -> details."""
        name = self.queue_name()
        if not name:
            return {}
        out = self._run("lpstat", "-W", which, "-l", "-o", name)
        found: dict[str, str] = {}
        current = None
        for line in out.splitlines():
            if line and not line[0].isspace():
                current = line.split()[0]
                found[current] = ""
            elif current is not None:
                found[current] += line.strip() + "\n"
        return found

    def cancel(self, job_id: str) -> None:
        self._run("cancel", job_id)


def _finished_state(details: str) -> str:
    """done or failed, from a finished job's Status/Alerts lines."""
    bad = ("job-completed-with-errors", "aborted", "job-canceled", "filter failed",
           "backend failed")
    return "failed" if any(word in details.lower() for word in bad) else "done"


# --- the queue ----------------------------------------------------------------------


@dataclasses.dataclass
class PrintJob:
    id: str
    photo_id: str
    copies: int
    source: str              #: "guest" (kiosk), "auto" or "admin"
    created: float
    state: str = "queued"
    cups_id: str = ""
    message: str = ""

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


class PrintService:
    """Print requests, the paper budget and the printer's state (module docstring)."""

    def __init__(self, settings: config.Settings, store: PhotoStore, events: Any, *,
                 between_photos: threading.Event | None = None, cups: Cups | None = None) -> None:
        self.settings = settings
        self.options = settings.print
        self.store = store
        self.events = events
        self.overlay = load_overlay(settings)  # a bad overlay stops the start, in one line
        self.cups = cups or Cups(self.options.printer)
        self.folder = settings.data_dir / "prints"
        self.folder.mkdir(parents=True, exist_ok=True)
        if removed := remove_leftovers(self.folder):  # a job list or page cut mid-write
            log.warning("print: removed %d temporary file(s) of a write cut short", removed)
        self._between_photos = between_photos
        self._lock = threading.Lock()
        self._todo: queue.Queue[PrintJob] = queue.Queue()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._offer: tuple[str, float] | None = None  # (photo id, monotonic end) in "ask" mode
        self._printer: dict = {"name": self.options.printer, "ok": True, "state": "unknown",
                               "job": None, "reasons": [], "message": "not checked yet"}
        self._last_printer_check = 0.0
        # CUPS down with a job active: asked every POLL_S, told once (and a summary).
        self._cups_unanswered = RepeatedWarning(log)
        self._retry_at: dict[str, float] = {}  # job id -> monotonic time of its next try
        self._cups_down = RepeatedWarning(log)  # the same for jobs waiting to be sent
        self.jobs: dict[str, PrintJob] = self._load_jobs()
        for job in self.jobs.values():
            if job.state in ACTIVE_STATES and not job.cups_id:
                self._todo.put(job)  # asked for before a restart, never sent: send it now

    # --- requests (any thread; quick) ------------------------------------------------
    def request(self, photo_id: str, source: str) -> PrintJob:
        """Queue a print of a stored photo; raises PrintRefused when it cannot be."""
        if self.store.get(photo_id) is None:
            raise PrintRefused("There is no photo with this id.")
        copies = self.options.copies
        with self._lock:
            for_photo = sum(j.copies for j in self.jobs.values()
                            if j.photo_id == photo_id and j.state not in ("failed", "canceled"))
            if for_photo + copies > self.options.max_per_photo:
                most = self.options.max_per_photo
                raise PrintRefused(f"This photo has had its {most} print{'s' if most > 1 else ''} "
                                   "already.")
            left = self._budget_left()
            if left is not None and copies > left:
                raise PrintRefused("The paper budget for this event is used up."
                                   if left == 0 else f"Only {left} sheets of paper are left.")
            job = PrintJob(id=secrets.token_hex(6), photo_id=photo_id, copies=copies,
                           source=source, created=time.time())
            self.jobs[job.id] = job
            self._save()
        self._todo.put(job)
        self._publish(job)
        log.info("print queued job=%s photo=%s source=%s copies=%d", job.id, photo_id, source, copies)
        return job

    def photo_shown(self, photo_id: str) -> None:
        """A booth photo is on the kiosk: print it ("auto") or offer it ("ask")."""
        mode = self.options.mode
        if mode == "auto":
            try:
                self.request(photo_id, "auto")
            except PrintRefused as exc:
                log.warning("print: auto print of %s refused: %s", photo_id, exc)
        elif mode == "ask":
            with self._lock:
                left = self._budget_left()
                # No paper left: no offer, so the next press simply takes the next photo.
                self._offer = (None if left == 0 else
                               (photo_id, time.monotonic() + self.options.ask_timeout_s))
            if left != 0:
                self.events.publish("print_offer", photo_id=photo_id,
                                    until=time.time() + self.options.ask_timeout_s,
                                    budget_left=left)

    def accept_offer(self) -> bool:
        """The guest pressed Print while it was offered: queue it. False when nothing was offered."""
        with self._lock:
            offer, self._offer = self._offer, None
        if offer is None or time.monotonic() > offer[1]:
            return False
        try:
            self.request(offer[0], "guest")
        except PrintRefused as exc:
            self.events.publish("print", job=None, photo_id=offer[0], state="refused",
                                message=str(exc))
        return True

    def withdraw_offer(self) -> None:
        """The result screen ended (the next photo started): nothing is offered any more."""
        with self._lock:
            self._offer = None

    def cancel(self, job_id: str) -> bool:
        """Cancel a job that has not printed yet; True if it was cancelled."""
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None or job.state not in ("queued", "held"):
                return False
            cups_id = job.cups_id
            if not cups_id:
                # Not sent yet (maybe being sent now): marked under the lock, so the
                # print thread, which records CUPS's id under it too, sees the cancel
                # and cancels what it sent.
                self._record(job, "canceled", "cancelled by the organiser")
        if cups_id:
            try:
                self.cups.cancel(cups_id)
            except CupsError as exc:
                log.warning("print: cancel %s: %s", cups_id, exc)
                return False
            with self._lock:
                self._record(job, "canceled", "cancelled by the organiser")
        self._announce(job)
        return True

    def forget_photo(self, photo_id: str) -> int:
        """A deleted photo: cancel its jobs not printed yet (in CUPS too), delete their
        pages, and take its id out of the job list (the budget still counts its sheets).
        Returns how many jobs were cancelled."""
        with self._lock:
            jobs = [j for j in self.jobs.values() if j.photo_id == photo_id]
            for job in jobs:
                job.photo_id = ""
            if self._offer is not None and self._offer[0] == photo_id:
                self._offer = None
            if jobs:
                self._save()
        cancelled = 0
        for job in jobs:
            if job.state in ACTIVE_STATES:
                if job.cups_id:
                    try:
                        self.cups.cancel(job.cups_id)
                    except CupsError as exc:  # gone already, or CUPS down: the page goes anyway
                        log.warning("print: cancel %s: %s", job.cups_id, exc)
                self._set_state(job, "canceled", "the photo was deleted")
                cancelled += 1
            (self.folder / f"{job.id}.pdf").unlink(missing_ok=True)
        return cancelled

    def forget_deleted_photos(self) -> None:
        """Jobs of photos deleted while the booth was not running (a wipe, a power cut
        between a delete and its jobs' cancelling)."""
        with self._lock:
            orphans = {j.photo_id for j in self.jobs.values() if j.photo_id and self.store.get(j.photo_id) is None}
        for photo_id in orphans:
            self.forget_photo(photo_id)

    # --- figures -----------------------------------------------------------------------
    def _sheets_used(self) -> int:
        return sum(j.copies for j in self.jobs.values() if j.state not in ("failed", "canceled"))

    def _budget_left(self) -> int | None:
        if not self.options.max_total:
            return None
        return max(0, self.options.max_total - self._sheets_used())

    def budget_left(self) -> int | None:
        """Sheets left in the event's budget; None without a budget."""
        with self._lock:
            return self._budget_left()

    def counters(self) -> dict:
        """Sheets printed, failed jobs, the budget left and jobs waiting (stats, /metrics)."""
        with self._lock:
            jobs = list(self.jobs.values())
            left = self._budget_left()
        return {"printed": sum(j.copies for j in jobs if j.state == "done"),
                "failed": sum(1 for j in jobs if j.state == "failed"),
                "waiting": sum(1 for j in jobs if j.state in ACTIVE_STATES),
                "budget_left": left, "budget_total": self.options.max_total or None}

    def health(self) -> dict:
        """The printer's state for /healthz (a printer problem never stops the photos)."""
        printer = dict(self._printer)
        return {"ok": printer["ok"], "name": printer["name"], "state": printer["state"],
                "reasons": printer["reasons"],
                "message": printer["message"] or f"{printer['state']}", **self.counters()}

    def recent_jobs(self, limit: int = 20) -> list[dict]:
        with self._lock:
            jobs = sorted(self.jobs.values(), key=lambda j: j.created, reverse=True)[:limit]
        return [j.as_dict() for j in jobs]

    # --- the print thread ------------------------------------------------------------
    def start(self) -> "PrintService":
        self._thread = threads.start_daemon(self._run, "booth-print")
        return self

    def stop(self, timeout: float = 3.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        threads.yield_cpu(PRINT_NICENESS)  # the print thread never competes with the generator for the CPU
        self.forget_deleted_photos()
        job: PrintJob | None
        for job in self._active():  # sent before a restart: follow them again
            log.info("print: following job %s (%s) from before the restart", job.id, job.cups_id)
        while not self._stopping.is_set():
            try:
                job = self._todo.get(timeout=POLL_S)
            except queue.Empty:
                job = None
            try:
                if job is not None and job.state == "queued" and not job.cups_id:
                    self._send(job)
                self._retry_due()
                self._refresh()
            except Exception:  # the print thread must outlive any surprise
                log.exception("print: unexpected error")

    def _active(self) -> list[PrintJob]:
        with self._lock:
            return [j for j in self.jobs.values() if j.state in ACTIVE_STATES]

    def _send(self, job: PrintJob) -> None:
        if self._between_photos is not None:
            self._between_photos.wait(YIELD_TO_PHOTO_S)
        pdf = self.folder / f"{job.id}.pdf"
        # Every way this can fail ends the job (failed: its sheets are back in the
        # budget); a job left "queued" would hold its paper for good.
        try:
            page = render_photo(self.store, self.settings, job.photo_id, self.overlay)
            write_atomic(pdf, page_pdf(page, self.options.dpi))
            media = config.PRINT_MEDIA[self.options.media][2]
            cups_id = self.cups.submit(pdf, copies=job.copies, media=media,
                                       title=f"booth-{job.id}")
        except (KeyError, ImageError) as exc:  # ImageError: its files went while the page rendered
            deleted = self.store.get(job.photo_id) is None
            if not deleted:
                log.warning("print: job %s not sent: %s", job.id, exc)
            self._send_failed(job, "the photo was deleted" if deleted else str(exc))
            return
        except (CupsError, OSError) as exc:
            if isinstance(exc, CupsError) and self._wait_for_cups(job):
                return
            log.warning("print: job %s not sent: %s", job.id, exc)
            self._send_failed(job, str(exc))
            return
        except Exception as exc:
            log.exception("print: job %s not sent", job.id)
            self._send_failed(job, f"{type(exc).__name__}: {exc}")
            return
        finally:
            if job.state in FINISHED_STATES:
                pdf.unlink(missing_ok=True)
        with self._lock:
            job.cups_id = cups_id
            cancelled_meanwhile = job.state == "canceled"
            self._save()
        if cancelled_meanwhile:
            try:
                self.cups.cancel(cups_id)
            except CupsError as exc:  # it will print after all: follow it, count its paper
                log.warning("print: cancel %s: %s", cups_id, exc)
                self._set_state(job, "queued", f"could not be cancelled ({exc})")
            return
        self._cups_down.over()
        log.info("print: job %s sent to CUPS as %s", job.id, cups_id)
        self._last_printer_check = 0.0  # look at it at once

    def _wait_for_cups(self, job: PrintJob) -> bool:
        """CUPS itself is down: keep the job queued and try again soon, up to CUPS_WAIT_S
        after it was asked for. True if it waits."""
        if not self.cups.scheduler_down() or time.time() - job.created > CUPS_WAIT_S:
            return False
        self._cups_down.warning(f"print: CUPS is not running: jobs wait for it (up to "
                                f"{CUPS_WAIT_S / 60:.0f} min)")
        if job.message != WAITING_FOR_CUPS:
            self._set_state(job, "queued", WAITING_FOR_CUPS)
        self._retry_at[job.id] = time.monotonic() + CUPS_RETRY_S
        return True

    def _retry_due(self) -> None:
        """Queue again the jobs that waited for CUPS and whose next try has come."""
        now = time.monotonic()
        for job_id, at in list(self._retry_at.items()):
            if at <= now:
                del self._retry_at[job_id]
                job = self.jobs.get(job_id)
                if job is not None and job.state == "queued" and not job.cups_id:
                    self._todo.put(job)

    def _send_failed(self, job: PrintJob, message: str) -> None:
        """The job could not be sent: failed, unless the organiser cancelled it meanwhile
        (its page went with the cancel, which is likely why)."""
        with self._lock:
            if job.state == "canceled":
                return
            self._record(job, "failed", message)
        self._announce(job)

    def _refresh(self) -> None:
        active = [j for j in self._active() if j.cups_id]
        now = time.monotonic()
        if not active and now - self._last_printer_check < IDLE_POLL_S:
            return
        self._last_printer_check = now
        printer = self.cups.printer_status()
        if (printer["ok"], printer["message"], printer["state"]) != (
                self._printer["ok"], self._printer["message"], self._printer["state"]):
            log.info("printer %s: %s %s", printer["name"], printer["state"], printer["message"])
            self.events.publish("printer", **printer)
        self._printer = printer
        if not active:
            return
        try:
            waiting = self.cups.jobs("not-completed")
            finished = self.cups.jobs("completed") if any(j.cups_id not in waiting for j in active) else {}
        except CupsError as exc:
            self._cups_unanswered.warning(f"print: cannot ask CUPS about jobs: {exc}")
            return
        self._cups_unanswered.over()
        for job in active:
            if job.cups_id in waiting:
                details = waiting[job.cups_id]
                if "job-completed-with-errors" in details or "aborted" in details:
                    state, message = "failed", details.strip().splitlines()[0]
                elif printer["job"] == job.cups_id:
                    state, message = "printing", printer["message"]
                elif printer["state"] == "paused" or "hold" in details:
                    state, message = "held", printer["message"] or "held in the printer's queue"
                else:
                    state, message = "queued", printer["message"]
            elif job.cups_id in finished:
                state = _finished_state(finished[job.cups_id])
                message = "" if state == "done" else finished[job.cups_id].strip().splitlines()[0]
            else:  # cancelled or purged outside the booth
                state, message = "failed", "CUPS no longer knows this job"
            # An organiser's cancel while CUPS was asked wins over what CUPS said before it.
            if job.state in ACTIVE_STATES and (state, message) != (job.state, job.message):
                self._set_state(job, state, message)

    def _set_state(self, job: PrintJob, state: str, message: str = "") -> None:
        with self._lock:
            self._record(job, state, message)
        self._announce(job)

    def _record(self, job: PrintJob, state: str, message: str) -> None:
        """Change a job's state and write the list (the caller holds the lock)."""
        job.state, job.message = state, message
        self._save()

    def _announce(self, job: PrintJob) -> None:
        """After a state change: the finished job's page goes, the log and the event say it."""
        if job.state in FINISHED_STATES:
            (self.folder / f"{job.id}.pdf").unlink(missing_ok=True)
        log.info("print: job %s %s%s", job.id, job.state, f" ({job.message})" if job.message else "")
        self._publish(job)

    def _publish(self, job: PrintJob) -> None:
        self.events.publish("print", job=job.as_dict(), photo_id=job.photo_id, state=job.state,
                            message=job.message, budget_left=self.budget_left())

    # --- the job list on disk ------------------------------------------------------------
    def _jobs_file(self) -> Path:
        return self.folder / "jobs.json"

    def _load_jobs(self) -> dict[str, PrintJob]:
        try:
            rows = json.loads(self._jobs_file().read_text())
            fields = {f.name for f in dataclasses.fields(PrintJob)}
            return {r["id"]: PrintJob(**{k: v for k, v in r.items() if k in fields}) for r in rows}
        except FileNotFoundError:
            return {}
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("print: %s unreadable (%s); starting a new job list", self._jobs_file(), exc)
            return {}

    def _save(self) -> None:
        """Write the job list (caller holds the lock); the oldest finished jobs beyond
        KEEP_JOBS are folded into one record, so the budget still counts them."""
        finished = [j for j in self.jobs.values() if j.state in FINISHED_STATES]
        if len(self.jobs) > KEEP_JOBS and len(finished) > 1:
            oldest = sorted(finished, key=lambda j: j.created)[:len(self.jobs) - KEEP_JOBS + 1]
            printed = sum(j.copies for j in oldest if j.state == "done")
            for j in oldest:
                del self.jobs[j.id]
            summary = PrintJob(id=secrets.token_hex(6), photo_id="", copies=printed, source="older",
                               created=oldest[-1].created, state="done", message="older jobs")
            self.jobs[summary.id] = summary
        data = json.dumps([j.as_dict() for j in self.jobs.values()], indent=0).encode()
        write_atomic(self._jobs_file(), data)
        fsync_dir(self.folder)  # the new name survives a power cut: a print told about stays


# --- `booth print-layout` --------------------------------------------------------------
def write_layout(settings: config.Settings, photo: str, out: Path) -> int:
    """`booth print-layout`: ``photo`` (an id in the store, or an image file) laid out
    on its print page, written to ``out`` (.png, .jpg or .pdf) without printing."""
    overlay = load_overlay(settings)
    source = Path(photo).expanduser()
    if source.is_file():
        try:
            anime = load_image(source)
        except Exception as exc:
            raise UserError(f"{source}: not an image ({exc})") from None
        page = render_page(anime, None, title=settings.booth.event_title,
                           date=words.long_date(time.time(), settings.booth.language),
                           url=qr.base_url(settings), settings=settings.print,
                           accent=settings.theme.accent_color, overlay=overlay,
                           language=settings.booth.language, logo=theme_logo(settings),
                           face=theme_font_file(settings))
    else:
        store_dir = settings.data_dir / "photos"
        if not (store_dir / "index.sqlite3").is_file():
            raise UserError(f"{photo}: not a file, and there is no photo store in {store_dir} "
                            "(pass --data-dir or --config)")
        # The booth may be running: a second opener only reads (no start-up repair).
        store = PhotoStore(store_dir, settings.storage, read_only=True)
        try:
            page = render_photo(store, settings, photo, overlay)
        except KeyError:
            raise UserError(f"{photo}: no such photo in {store_dir}") from None
        finally:
            store.close()
    suffix = out.suffix.lower()
    data = (page_pdf(page, settings.print.dpi) if suffix == ".pdf"
            else encode_png(page) if suffix == ".png" else encode_jpeg(page, 95))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, data)
    width, height = page.shape[1], page.shape[0]
    print(f"{out}: {width}x{height} px, {settings.print.media} at {settings.print.dpi} dpi")
    return 0
