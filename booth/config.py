"""The booth's settings: one typed, validated place for every tunable fact.

The defaults live here, in the dataclasses below, and nowhere else; the top-level
``config.toml`` documents them (a test keeps the two identical). A user's config file
only needs the keys it changes. Loading is strict, in the spirit of pibooth's plain
config file with clear errors: an unknown section or key, a wrong type or a bad value
raises :class:`ConfigError` with one line naming the key and, where it can be found,
the line of the file::

    config.toml:12: [button] pin: expected an integer, got "seventeen"
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
import re
import shutil
import struct
import subprocess
import tomllib
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar, get_type_hints

from booth import PROJECT_ROOT
from booth.errors import ConfigError


log = logging.getLogger(__name__)

#: Keys earlier releases wrote into config files and this one no longer reads, with what
#: replaced them: an upgraded booth warns and starts (an organiser's config.toml is never
#: rewritten by install.sh) instead of refusing its own older file.
RETIRED_KEYS: dict[tuple[str, str], str] = {
    ("styles", "face_scene"): "a face style's companion is named in weights/manifest.toml",
}

#: Wi-Fi channels a hotspot may use: 2.4 GHz (every phone can join), and the 5 GHz
#: channels that need no radar detection (the Pi's radio cannot do it as an access point).
WIFI_CHANNELS_24GHZ = range(1, 14)
WIFI_CHANNELS_5GHZ = (36, 40, 44, 48)


def is_private_ipv4(text: str) -> bool:
    """True for a dotted private (RFC 1918) IPv4 address such as 10.42.0.1."""
    try:
        address = ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return any(address in ipaddress.IPv4Network(net) for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


#: The languages the booth ships a catalog for (booth/translations/<language>/).
LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "ja", "zh_Hans", "ar")


def check(cond: bool, message: str) -> None:
    """Raise ValueError(``message``) unless ``cond``: what every ``validate()`` uses. The
    message starts with the key it is about, so the loader can point at that key's line."""
    if not cond:
        raise ValueError(message)


def luminance(hex_colour: str) -> float:
    """WCAG relative luminance of "#rrggbb"."""
    def channel(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two "#rrggbb" colours (1..21)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)



@dataclass(frozen=True)
class BoothSettings:
    #: Where photos, the index and the OpenVINO compile cache live. Relative paths are
    #: taken from the config file's folder. The systemd unit overrides it with
    #: BOOTH_DATA_DIR=/var/lib/booth.
    data_dir: str = "data"
    #: Shown on the kiosk and the gallery.
    event_title: str = "Anime Booth"
    #: This booth's name: its folder on the [sync] remote and its mark in a merged
    #: gallery ("" = the machine's host name). Give every booth of an event its own.
    name: str = ""
    #: The kiosk's and the prints' language (phones follow their own, see docs/languages.md):
    #: one of en, de, fr, es, it, pt, ja, zh_Hans, ar.
    language: str = "en"

    def validate(self) -> None:
        check(bool(self.event_title.strip()), "event_title must not be empty")
        check(self.language in LANGUAGES, f"language must be one of {', '.join(LANGUAGES)}")
        check(self.name == "" or re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}", self.name) is not None,
              'name must be 1..32 letters, digits, "_" or "-" (or empty: the host name)')


@dataclass(frozen=True)
class CameraSettings:
    #: "auto" tries picamera2, then an OpenCV webcam; "folder" cycles through photos.
    backend: str = "auto"
    #: OpenCV webcam: an index ("0") or a device path ("/dev/video0").
    device: str = "0"
    #: Folder backend (demo mode): a directory of JPEG/PNG photos.
    folder: str = ""
    #: Live preview stream size (width, height).
    preview_size: list[int] = field(default_factory=lambda: [640, 480])
    #: Full-resolution still size (width, height); [0, 0] = the sensor's largest.
    still_size: list[int] = field(default_factory=lambda: [0, 0])
    #: Mirror the preview like a mirror (the saved photo is never mirrored).
    mirror_preview: bool = True
    #: Reconnect back-off for a missing or failing camera, in seconds.
    retry_initial_s: float = 1.0
    retry_max_s: float = 30.0
    #: A capture that takes longer than this counts as a hung camera.
    capture_timeout_s: float = 5.0

    def validate(self) -> None:
        check(self.backend in ("auto", "picamera2", "opencv", "folder"),
               'backend must be one of "auto", "picamera2", "opencv", "folder"')
        for name in ("preview_size", "still_size"):
            v = getattr(self, name)
            check(len(v) == 2 and all(isinstance(x, int) and x >= 0 for x in v),
                   f"{name} must be [width, height] with whole numbers >= 0")
        check(0 < self.retry_initial_s <= self.retry_max_s,
               "retry_initial_s must be > 0 and <= retry_max_s")
        check(self.capture_timeout_s > 0, "capture_timeout_s must be > 0")


@dataclass(frozen=True)
class ButtonSettings:
    #: BCM GPIO number of the big button (wired between the pin and GND).
    pin: int = 17
    #: True: internal pull-up, the button pulls the pin to GND when pressed.
    pull_up: bool = True
    #: Debounce time in seconds.
    bounce_time: float = 0.05
    #: Hold the button this long during the countdown to cancel it (0 = off).
    hold_to_cancel_s: float = 0.0
    #: BCM GPIO number of an optional LED in the button (-1 = no LED).
    led_pin: int = -1
    #: Drive the LED with PWM so it can breathe while idle.
    led_pwm: bool = True
    #: On a Raspberry Pi, refuse to pretend: report loudly when gpiozero has no real
    #: pin factory (the button would be silently dead).
    require_real_gpio: bool = True
    #: BCM GPIO number of an optional second button that cycles the style (-1 = none).
    #: Without it, a long press of the main button (long_press_s) cycles the style.
    style_pin: int = -1
    #: Hold the main button this long (while idle) to go to the next style (0 = off);
    #: with a style button, hold that one this long to go to the next mode ([cycle] modes).
    long_press_s: float = 1.0

    def validate(self) -> None:
        check(0 <= self.pin <= 27, "pin must be a BCM GPIO number 0..27")
        check(self.style_pin == -1 or (0 <= self.style_pin <= 27
                                        and self.style_pin not in (self.pin, self.led_pin)),
               "style_pin must be -1 (none) or a free BCM GPIO number 0..27")
        check(0 <= self.long_press_s <= 10, "long_press_s must be 0..10 seconds")
        check(self.led_pin == -1 or 0 <= self.led_pin <= 27,
               "led_pin must be -1 (none) or a BCM GPIO number 0..27")
        check(self.led_pin != self.pin, "led_pin must differ from pin")
        check(0 <= self.bounce_time <= 1, "bounce_time must be 0..1 seconds")
        check(self.hold_to_cancel_s >= 0, "hold_to_cancel_s must be >= 0")


#: The kinds of picture a guest can choose at the kiosk ([cycle] modes).
CYCLE_MODES = ("photo", "strip", "boomerang")


@dataclass(frozen=True)
class CycleSettings:
    #: Seconds counted down on screen before the picture is taken.
    countdown_s: int = 3
    #: How long the result stays on the kiosk before going back to idle.
    show_result_s: float = 12.0
    #: Longest time a processing step may take before the cycle fails safely.
    process_timeout_s: float = 30.0
    #: How long the friendly error screen stays before going back to idle.
    failsafe_s: float = 4.0
    #: What a guest may choose at the kiosk, in the order it cycles them: "photo" (one
    #: portrait), "strip" (several shots on a photo strip), "boomerang" (a short clip
    #: played forward and back). The first is what a press takes until a guest chooses.
    modes: list[str] = field(default_factory=lambda: list(CYCLE_MODES))
    #: Shots on a photo strip, each with its own countdown: 3 or 4.
    strip_shots: int = 4
    #: Say each number of the countdown aloud through the screen's speakers (in the
    #: kiosk's language, rendered at install by espeak-ng).
    spoken_countdown: bool = False

    def validate(self) -> None:
        check(bool(self.modes) and all(m in CYCLE_MODES for m in self.modes),
               "modes must list some of " + ", ".join(f'"{m}"' for m in CYCLE_MODES))
        check(len(set(self.modes)) == len(self.modes), "modes lists a mode twice")
        check(self.strip_shots in (3, 4), "strip_shots must be 3 or 4")
        check(0 <= self.countdown_s <= 30, "countdown_s must be 0..30")
        check(self.show_result_s > 0, "show_result_s must be > 0")
        check(self.process_timeout_s > 0, "process_timeout_s must be > 0")
        check(self.failsafe_s > 0, "failsafe_s must be > 0")


@dataclass(frozen=True)
class GeneratorSettings:
    #: "auto" (default: what `booth weights build` measured fastest on this machine
    #: with at least 30 dB PSNR against the float network, recorded in the model card),
    #: or "int8", "f16" or "f32" to force one. `booth bench --precisions` compares them.
    precision: str = "auto"
    #: "auto" (the complexity policy picks) or a fixed size, a multiple of 8 in
    #: [min_size, max_size].
    size: str = "auto"
    #: The sizes the generator is warmed up for and the policy chooses from (long
    #: side of the crop, multiples of 8 within 384..512).
    sizes: list[int] = field(default_factory=lambda: [384, 448, 512])
    #: Complexity score (mean gradient magnitude, see booth.vision.policy) at or below which
    #: the smallest size is used, and at or above which the largest is used.
    complexity_low: float = 6.0
    complexity_high: float = 14.0
    #: OpenVINO inference threads (0 = let OpenVINO decide: all cores).
    threads: int = 0

    @property
    def running_sizes(self) -> list[int]:
        """The sizes the generator can run at: the fixed ``size``, or all of ``sizes``
        under "auto" (what start-up warms: a fixed size never runs the others)."""
        return list(self.sizes) if self.size == "auto" else [int(self.size)]

    def validate(self) -> None:
        check(self.precision in ("auto", "int8", "f16", "f32"),
               'precision must be "auto", "int8", "f16" or "f32"')
        check(bool(self.sizes), "sizes must not be empty")
        for s in self.sizes:
            check(isinstance(s, int) and s % 8 == 0 and 384 <= s <= 512,
                   f"sizes: {s!r} is not a multiple of 8 in 384..512")
        check(self.size == "auto" or (self.size.isdigit() and int(self.size) in self.sizes),
               'size must be "auto" or one of sizes')
        check(0 <= self.complexity_low < self.complexity_high,
               "complexity_low must be >= 0 and below complexity_high")
        check(self.threads >= 0, "threads must be >= 0")


@dataclass(frozen=True)
class StylesSettings:
    #: Styles the guest may choose from, in the order the kiosk cycles them (names
    #: from weights/manifest.toml; "hayao" is the classic generator). Styles whose
    #: files are not built are skipped with a warning.
    enabled: list[str] = field(default_factory=lambda: ["hayao", "jpface", "cute", "hayao3",
                                                        "shinkai", "whitebox"])
    #: The style a press uses until a guest picks another; always kept compiled.
    default: str = "hayao"
    #: At most this many styles stay compiled (each costs memory; the least recently
    #: used one is dropped first, never the default).
    max_loaded: int = 2

    def validate(self) -> None:
        check(bool(self.enabled), "enabled must list at least one style")
        check(len(set(self.enabled)) == len(self.enabled), "enabled lists a style twice")
        check(self.default in self.enabled, "default must be one of enabled")
        check(1 <= self.max_loaded <= 16, "max_loaded must be 1..16")


@dataclass(frozen=True)
class FaceSettings:
    #: "portrait" (the levelled crop is stylized; fast) or "hd" (whole frame and each
    #: face separately, faces pasted back with a feathered mask; slower).
    mode: str = "portrait"
    #: Detector score threshold (0..1).
    score_threshold: float = 0.6
    #: At most this many faces are used (largest first).
    max_faces: int = 12
    #: Long side of the downscaled copy the detector runs on.
    detect_size: int = 640
    #: Side of the close-up the detector re-runs on around each face for precise
    #: landmarks (0 = off: faster, about twice the landmark error).
    refine_size: int = 320
    #: Portrait framing: share of the crop's height the face box takes (one face).
    face_share: float = 0.38
    #: Portrait framing: where the face's centre sits, as a share of the crop's height
    #: from the top (below 0.5 leaves room for the shoulders).
    face_y: float = 0.42
    #: Extra room around the group's face boxes, as a share of the mean face height.
    margin: float = 0.9
    #: Output aspect ratio, width / height (0.8 = 4:5 portrait).
    aspect: float = 0.8

    def validate(self) -> None:
        check(self.mode in ("portrait", "hd"), 'mode must be "portrait" or "hd"')
        check(0 < self.score_threshold < 1, "score_threshold must be in (0, 1)")
        check(1 <= self.max_faces <= 50, "max_faces must be 1..50")
        check(160 <= self.detect_size <= 1920, "detect_size must be 160..1920")
        check(self.refine_size == 0 or 128 <= self.refine_size <= 640,
               "refine_size must be 0 (off) or 128..640")
        check(0.05 <= self.face_share <= 0.9, "face_share must be 0.05..0.9")
        check(0.2 <= self.face_y <= 0.8, "face_y must be 0.2..0.8")
        check(0 <= self.margin <= 5, "margin must be 0..5")
        check(0.4 <= self.aspect <= 2.5, "aspect must be 0.4..2.5 (width / height)")


@dataclass(frozen=True)
class WebSettings:
    #: Address the web server listens on (0.0.0.0 = every interface, for phones).
    host: str = "0.0.0.0"
    port: int = 8080
    #: Base URL in QR codes, e.g. "http://booth.lan:8080". Empty: with [network] hotspot,
    #: the booth's address on it; otherwise the primary IPv4 address is detected.
    base_url: str = ""
    #: Admin password (at least 8 characters) for the admin page, the HTTP trigger
    #: and a private gallery.
    #: Empty: admin pages are reachable from the Pi itself (loopback) only.
    admin_password: str = ""
    #: "public": anyone on the booth's network sees the gallery index.
    #: "private": only per-photo links (QR codes) work; the index needs the admin.
    gallery_index: str = "public"
    #: Who sees a photo's original (the unedited camera frame or upload):
    #: "owner": only through the photo's own QR link (a per-photo key the gallery and
    #: /api/photos never show); "public": anyone with the photo's page; "off": nobody
    #: but the organiser. The anime portrait is always shared.
    originals: str = "owner"
    #: waitress worker threads.
    threads: int = 8
    #: While the booth makes a photo (capture to result), new phone requests wait up
    #: to this long before they are served: the guest at the booth gets the CPU first.
    #: 0 = serve them at once.
    yield_to_photo_ms: int = 400

    def validate(self) -> None:
        check(1 <= self.port <= 65535, "port must be 1..65535")
        check(self.admin_password == "" or len(self.admin_password) >= 8,
               "admin_password must be at least 8 characters (or empty: the admin page only "
               "from the Pi itself)")
        check(self.gallery_index in ("public", "private"), 'gallery_index must be "public" or "private"')
        check(self.originals in ("owner", "public", "off"), 'originals must be "owner", "public" or "off"')
        check(self.base_url == "" or re.match(r"^https?://[^\s/]+(/[^\s]*)?$", self.base_url)
               is not None, 'base_url must look like "http://10.42.0.1:8080" or be empty')
        check(1 <= self.threads <= 64, "threads must be 1..64")
        check(0 <= self.yield_to_photo_ms <= 5000, "yield_to_photo_ms must be 0..5000")


#: WCAG AA's least contrast for text: the accent is text (the countdown's words, links,
#: headings) on the background.
TEXT_CONTRAST = 4.5
#: The logo's limits: it is read on every start and sent to every phone.
LOGO_MAX_BYTES = 1_000_000
LOGO_MAX_SIDE = 2048
#: Font files the browsers and the print layout both read.
FONT_FILE_SUFFIXES = (".ttf", ".otf")


@dataclass(frozen=True)
class ThemeSettings:
    #: The event's accent colour: buttons, headings, the countdown's glow, focus rings, the
    #: print's title. It is text on background_color, so their contrast must reach WCAG
    #: AA's 4.5:1.
    accent_color: str = "#ff5c8a"
    #: The background of the kiosk and the phone pages.
    background_color: str = "#17131f"
    #: The event's logo on the kiosk, the phone pages and the prints: a PNG or SVG file
    #: (relative paths are taken from the config file's folder), at most 1 MB and, for a
    #: PNG, 2048 pixels a side. "" = no logo.
    logo: str = ""
    #: The font of the kiosk, the phone pages and the prints: a font family installed on
    #: the system ("Noto Sans"; `fc-list : family` lists them) or a .ttf/.otf file.
    #: "" = the system's sans-serif.
    font: str = ""

    def validate(self) -> None:
        for name in ("accent_color", "background_color"):
            check(re.match(r"^#[0-9a-fA-F]{6}$", getattr(self, name)) is not None,
                  f'{name} must be a colour like "#ff5c8a"')
        ratio = contrast(self.accent_color, self.background_color)
        check(ratio >= TEXT_CONTRAST,
              f"accent_color {self.accent_color} on background_color {self.background_color} has a "
              f"contrast of {ratio:.1f}:1, below the {TEXT_CONTRAST}:1 text needs (WCAG AA): "
              "choose a lighter or darker accent")
        check(self.logo == "" or Path(self.logo).suffix.lower() in (".png", ".svg"),
              "logo must be a .png or .svg file (or empty)")
        check(re.fullmatch(r"[^\"';{}<>\\]*", self.font) is not None,
              "font must be a font family name or a font file (no quotes, ; { } < > or \\)")


@dataclass(frozen=True)
class StorageSettings:
    #: Below this much free disk, new captures are refused with a clear message.
    min_free_mb: int = 500
    #: JPEG quality of the stored images.
    jpeg_quality: int = 90
    #: Long side of the gallery thumbnails.
    thumb_size: int = 320
    #: Long side of the stored anime portrait (pixels): the generator's 384–512 px
    #: output is upsampled, guided by the full-resolution crop, up to this size but
    #: never beyond the crop's own resolution in the photo. 0 = the generator's size.
    result_long_side: int = 1350

    def validate(self) -> None:
        check(self.min_free_mb >= 0, "min_free_mb must be >= 0")
        check(50 <= self.jpeg_quality <= 100, "jpeg_quality must be 50..100")
        check(64 <= self.thumb_size <= 1024, "thumb_size must be 64..1024")
        check(self.result_long_side == 0 or 512 <= self.result_long_side <= 4096,
               "result_long_side must be 0 (the generator's size) or 512..4096")


#: Consent modes: say nothing, say what is kept (a line and the privacy page), or ask
#: every guest before the photo.
CONSENT_MODES = ("none", "notice", "ask")


@dataclass(frozen=True)
class PrivacySettings:
    #: "none": the booth says nothing; "notice": the kiosk's idle screen and every phone
    #: page carry one line and a link to the privacy page (/privacy); "ask": that, and
    #: the kiosk asks before each photo (a press is yes; holding the button, or no answer
    #: within ask_timeout_s, is no and nothing is taken), and the upload page asks
    #: before sending.
    consent: str = "none"
    #: How long the kiosk waits for the guest's answer in "ask" mode, in seconds.
    ask_timeout_s: float = 10.0
    #: Delete each photo's original (the unedited camera frame or upload) this many
    #: hours after it was taken (0 = keep it until the photo is deleted).
    keep_originals_hours: int = 0
    #: Delete each photo whole (anime results, style variants, thumbnail, print pages
    #: and queued prints) this many hours after it was taken (0 = keep it).
    keep_results_hours: int = 0
    #: Who guests contact about their photos, shown on the privacy page ("" = "the host
    #: of the event").
    contact: str = ""

    def validate(self) -> None:
        check(self.consent in CONSENT_MODES, 'consent must be "none", "notice" or "ask"')
        check(2 <= self.ask_timeout_s <= 60, "ask_timeout_s must be 2..60 seconds")
        check(self.keep_originals_hours >= 0, "keep_originals_hours must be >= 0 (0 = keep)")
        check(self.keep_results_hours >= 0, "keep_results_hours must be >= 0 (0 = keep)")
        check(not self.keep_results_hours or 0 < self.keep_originals_hours <= self.keep_results_hours,
              "keep_originals_hours must be 1..keep_results_hours when keep_results_hours is set "
              "(an original goes with its photo at the latest)")
        check(len(self.contact) <= 200 and "\n" not in self.contact,
              "contact must be one line of at most 200 characters")


@dataclass(frozen=True)
class UploadSettings:
    #: Let guests upload photos from their phones at /upload.
    enabled: bool = False
    #: Optional event PIN guests must type to upload ("" = none).
    pin: str = ""
    #: Largest accepted upload, in bytes.
    max_bytes: int = 12_000_000
    #: Largest accepted image, in pixels (checked from the header before decoding).
    max_pixels: int = 40_000_000
    #: Memory one photo's decode may take, in MB (one photo is decoded at a time).
    #: Photos whose format would need more at their size are refused with a sentence.
    #: 450 takes every format at 40 megapixels (8-bit HEIC and WebP, the hungriest, need
    #: about 8 bytes a pixel).
    decode_mb: int = 450
    #: Per client: files per minute, and photos waiting in the queue.
    per_minute: int = 6
    queue_max: int = 3
    #: All phones together: photos waiting in the queue (each holds about 9 MB).
    queue_total: int = 12
    #: Show uploaded results on the kiosk screen too.
    show_on_kiosk: bool = False

    def validate(self) -> None:
        check(self.pin == "" or self.pin.isdigit(), "pin must be digits or empty")
        check(10_000 <= self.max_bytes <= 100_000_000, "max_bytes must be 10 kB..100 MB")
        check(1_000 <= self.max_pixels <= 100_000_000, "max_pixels must be 1000..100000000")
        check(64 <= self.decode_mb <= 4000, "decode_mb must be 64..4000")
        check(self.per_minute >= 1 and self.queue_max >= 1,
               "per_minute and queue_max must be >= 1")
        check(self.queue_total >= self.queue_max, "queue_total must be >= queue_max")


#: Paper sizes the booth lays out prints for: name -> (width_in, height_in, CUPS media name).
#: The layout is drawn landscape (width >= height); CUPS turns it to fit the paper.
PRINT_MEDIA: dict[str, tuple[float, float, str]] = {
    "4x6": (6.0, 4.0, "na_index-4x6_4x6in"),
    "5x7": (7.0, 5.0, "na_5x7_5x7in"),
    "A6": (148 / 25.4, 105 / 25.4, "iso_a6_105x148mm"),
    "A5": (210 / 25.4, 148 / 25.4, "iso_a5_148x210mm"),
    "square": (4.0, 4.0, "oe_square-photo_4x4in"),
}


@dataclass(frozen=True)
class PrintSettings:
    #: Print photos through CUPS (the printer is set up once with CUPS's own tools).
    enabled: bool = False
    #: CUPS queue name ("" = CUPS's default printer).
    printer: str = ""
    #: "ask": the kiosk offers Print on the result screen (the button or Enter prints,
    #: nothing happens after ask_timeout_s); "auto": every booth photo prints;
    #: "admin": only from the admin page.
    mode: str = "ask"
    #: How long the kiosk offers Print in "ask" mode, in seconds.
    ask_timeout_s: float = 10.0
    #: Copies per print job.
    copies: int = 1
    #: Most sheets one photo may use (reprints included).
    max_per_photo: int = 2
    #: The event's paper budget: most sheets printed in all (0 = no limit).
    max_total: int = 0
    #: Paper size: "4x6", "5x7", "A6", "A5" or "square" (4x4 in).
    media: str = "4x6"
    #: Printer resolution the page is laid out at (dots per inch).
    dpi: int = 300
    #: Put the original photo small beside the anime portrait.
    show_original: bool = True
    #: Organiser's logo or frame: a PNG with transparency, stretched over the whole
    #: page ("" = none). Relative paths are taken from the config file's folder.
    overlay: str = ""

    def validate(self) -> None:
        check(self.mode in ("ask", "auto", "admin"), 'mode must be "ask", "auto" or "admin"')
        check(1 <= self.ask_timeout_s <= 120, "ask_timeout_s must be 1..120 seconds")
        check(1 <= self.copies <= 10, "copies must be 1..10")
        check(self.max_per_photo >= self.copies, "max_per_photo must be >= copies")
        check(self.max_total >= 0, "max_total must be >= 0 (0 = no limit)")
        check(self.media in PRINT_MEDIA, f"media must be one of {', '.join(PRINT_MEDIA)}")
        check(150 <= self.dpi <= 600, "dpi must be 150..600")
        check(re.match(r"^[^\s/#]*$", self.printer) is not None,
               "printer must be a CUPS queue name (no spaces, / or #) or empty")
        check(self.overlay == "" or self.overlay.lower().endswith(".png"),
               "overlay must be a .png file or empty")


@dataclass(frozen=True)
class NetworkSettings:
    #: The Wi-Fi guests join: the kiosk shows it, and with ``hotspot`` the booth makes it.
    ssid: str = ""
    #: Its WPA2 password ("" = an open venue network; the hotspot needs 8..63 characters).
    password: str = ""
    #: The network does not announce its name (phones join it from the Wi-Fi QR code).
    hidden: bool = False
    #: The booth makes its own Wi-Fi (NetworkManager, shared mode) with a captive portal:
    #: `booth network apply` (and install.sh) create it, or remove it when false.
    hotspot: bool = False
    #: Wi-Fi channel of the hotspot: 1..13 (2.4 GHz, every phone) or 36, 40, 44, 48 (5 GHz).
    channel: int = 6
    #: Two-letter country code (ISO 3166, e.g. "DE"): the Wi-Fi rules the radio obeys.
    #: Required with hotspot = true.
    country: str = ""
    #: The booth's address on its hotspot (NetworkManager's shared-mode default); phones
    #: get addresses in its /24, the QR codes and the captive portal point to it.
    address: str = "10.42.0.1"
    #: The Wi-Fi interface the hotspot runs on.
    interface: str = "wlan0"

    def validate(self) -> None:
        check(len(self.ssid.encode("utf-8")) <= 32, "ssid must be at most 32 bytes long")
        check(not any(ord(c) < 32 or ord(c) == 127 for c in self.ssid),
               "ssid must not contain control characters")
        check(self.channel in WIFI_CHANNELS_24GHZ or self.channel in WIFI_CHANNELS_5GHZ,
               "channel must be 1..13 (2.4 GHz) or 36, 40, 44, 48 (5 GHz)")
        check(self.country == "" or re.fullmatch(r"[A-Z]{2}", self.country) is not None,
               'country must be a two-letter code in capitals, like "DE" or "US"')
        # With hotspot = true the stricter WPA2 rule below names the problem.
        check(self.hotspot or self.password == "" or 8 <= len(self.password) <= 63,
               "password must be 8..63 characters (WPA) or empty for an open network")
        check(self.hotspot or self.ssid != "" or (self.password == "" and not self.hidden),
               "password and hidden need an ssid")
        check(is_private_ipv4(self.address), 'address must be a private IPv4 address like "10.42.0.1"')
        check(re.fullmatch(r"[A-Za-z0-9_.-]{1,15}", self.interface) is not None,
               'interface must be a network interface name like "wlan0"')
        if not self.hotspot:
            return
        check(bool(self.ssid.strip()), "ssid must be set when hotspot = true (the network's name)")
        check(8 <= len(self.password) <= 63 and all(32 <= ord(c) < 127 for c in self.password),
               "password must be 8..63 plain ASCII characters when hotspot = true (WPA2)")
        check(self.country != "", 'country is required when hotspot = true: the two-letter '
               'code of the country the booth is in (e.g. "DE"), for its Wi-Fi rules')


#: An rclone remote and path: "NAME:path" (NAME made with `rclone config`) or a local folder.
SYNC_REMOTE_PATTERN = re.compile(r"^([A-Za-z0-9_][A-Za-z0-9_. -]*:[^\s]*|/[^\s]*)$")


@dataclass(frozen=True)
class SyncSettings:
    #: Where every photo is copied: an rclone remote and path, "NAME:path" (NAME set up
    #: with `rclone config`: S3, WebDAV/Nextcloud, SFTP, a USB disk...). "" = off.
    remote: str = ""
    #: A full catch-up pass (`rclone copy` of every photo) every this many minutes.
    every_min: int = 10
    #: Upload bandwidth cap in KiB/s (rclone --bwlimit; 0 = no cap).
    bandwidth_kib: int = 1024
    #: The public web address of the remote's share/ folder (e.g.
    #: "https://photos.example.org/share"): each photo gets a static share page there.
    #: "" = no share pages.
    public_url: str = ""
    #: Where the QR code leads with public_url set: "booth" (the booth's own page, which
    #: shows its owner the public link) or "public" (the share page).
    qr: str = "booth"
    #: rclone's config file ("" = rclone's own default, ~/.config/rclone/rclone.conf of
    #: the user the booth runs as). Relative paths are taken from the config file's folder.
    rclone_config: str = ""

    def validate(self) -> None:
        check(self.remote == "" or SYNC_REMOTE_PATTERN.match(self.remote) is not None,
              'remote must be "NAME:path" (an rclone remote) or empty')
        check(1 <= self.every_min <= 1440, "every_min must be 1..1440")
        check(0 <= self.bandwidth_kib <= 1_000_000, "bandwidth_kib must be 0 (no cap)..1000000")
        check(self.public_url == "" or re.match(r"^https?://[^\s/]+(/[^\s]*)?$", self.public_url)
              is not None, 'public_url must look like "https://photos.example.org/share" or be empty')
        check(self.public_url == "" or self.remote != "", "public_url needs a remote")
        check(self.qr in ("booth", "public"), 'qr must be "booth" or "public"')


#: The styles small enough to run live in the mirror (each a [styles.NAME] manifest entry,
#: built by `booth styles build`).
MIRROR_STYLES = ("cute",)
#: Below this rate the mirror is too jerky to show: the kiosk shows the plain preview.
MIRROR_MIN_FPS = 5.0


@dataclass(frozen=True)
class PreviewSettings:
    #: The live anime mirror: while idle and during the countdown the kiosk's preview
    #: shows the camera stylized live (false: the plain camera preview).
    anime: bool = True
    #: The mirror's style: "cute" (AnimeGANv3 tiny Cute, small enough to run live).
    style: str = "cute"
    #: Long side of the stylized frames in pixels (the screen scales them up); the
    #: mirror steps down from here when frames take longer than 1 / max_fps.
    size: int = 320
    #: Highest rate the mirror stylizes at (frames per second).
    max_fps: float = 24.0
    #: OpenVINO threads the mirror uses (the rest stay free for the booth).
    threads: int = 1
    #: Weight of the previous frame in the mirror's blend over time (0 = off): a
    #: still scene must not shimmer.
    smoothing: float = 0.5

    def validate(self) -> None:
        check(self.style in MIRROR_STYLES,
               "style must be one of " + ", ".join(f'"{s}"' for s in MIRROR_STYLES))
        check(160 <= self.size <= 640 and self.size % 16 == 0,
               "size must be a multiple of 16 in 160..640")
        check(MIRROR_MIN_FPS <= self.max_fps <= 60, f"max_fps must be {MIRROR_MIN_FPS:g}..60")
        check(1 <= self.threads <= 64, "threads must be 1..64")
        check(0 <= self.smoothing < 1, "smoothing must be 0 (off) up to below 1")


@dataclass(frozen=True)
class Settings:
    booth: BoothSettings = field(default_factory=BoothSettings)
    camera: CameraSettings = field(default_factory=CameraSettings)
    button: ButtonSettings = field(default_factory=ButtonSettings)
    cycle: CycleSettings = field(default_factory=CycleSettings)
    generator: GeneratorSettings = field(default_factory=GeneratorSettings)
    styles: StylesSettings = field(default_factory=StylesSettings)
    face: FaceSettings = field(default_factory=FaceSettings)
    web: WebSettings = field(default_factory=WebSettings)
    theme: ThemeSettings = field(default_factory=ThemeSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    upload: UploadSettings = field(default_factory=UploadSettings)
    network: NetworkSettings = field(default_factory=NetworkSettings)
    print: PrintSettings = field(default_factory=PrintSettings)
    preview: PreviewSettings = field(default_factory=PreviewSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    sync: SyncSettings = field(default_factory=SyncSettings)
    #: The folder relative paths are resolved against (the config file's folder).
    base_dir: Path = field(default=PROJECT_ROOT, compare=False)

    def __post_init__(self) -> None:
        check_theme_files(self)

    def path(self, name: str) -> Path:
        """A file named in the config: relative names are taken from the config's folder."""
        path = Path(name).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    @property
    def logo_path(self) -> Path | None:
        """The ``[theme] logo`` file (checked at start), or None."""
        return self.path(self.theme.logo) if self.theme.logo else None

    @property
    def font_file(self) -> Path | None:
        """The ``[theme] font`` when it names a font file, or None (a family, or none)."""
        font = self.theme.font
        return self.path(font) if font.lower().endswith(FONT_FILE_SUFFIXES) else None

    @property
    def data_dir(self) -> Path:
        """The data directory: BOOTH_DATA_DIR wins over the config file."""
        raw = os.environ.get("BOOTH_DATA_DIR") or self.booth.data_dir
        path = Path(raw).expanduser()
        return path if path.is_absolute() else (self.base_dir / path)

    def replace(self, section: str, *, validate: bool = True, **changes: Any) -> "Settings":
        """A copy with some keys of one section changed, validated unless the caller
        checked the values itself (``booth run --port 0``: any free port)."""
        new_section = dataclasses.replace(getattr(self, section), **changes)
        if validate:
            new_section.validate()
        return dataclasses.replace(self, **{section: new_section})


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def logo_kind(data: bytes) -> str | None:
    """"png" or "svg" by the file's content (not its name), or None."""
    if data.startswith(PNG_SIGNATURE):
        return "png"
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError:
        return None
    return "svg" if root.tag in ("svg", "{http://www.w3.org/2000/svg}svg") else None


def logo_problem(path: Path) -> str | None:
    """What is wrong with a logo file for the booth, or None."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return f"{path} not found"
    if size > LOGO_MAX_BYTES:
        return f"{path} is {size / 1e6:.1f} MB, more than the {LOGO_MAX_BYTES / 1e6:g} MB a logo may be"
    data = path.read_bytes()
    kind = logo_kind(data)
    if kind is None or kind != path.suffix.lower().lstrip("."):
        return f"{path} is not a {path.suffix.lower().lstrip('.').upper()} image"
    if kind == "png":
        width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk, always first
        if max(width, height) > LOGO_MAX_SIDE:
            return (f"{path} is {width}x{height} pixels, more than the {LOGO_MAX_SIDE} a side "
                    "a logo may be")
    return None


@cache
def installed_font_families() -> frozenset[str] | None:
    """The font families fontconfig knows here (lower case), or None without fontconfig."""
    if shutil.which("fc-list") is None:
        return None
    listing = subprocess.run(["fc-list", "--format", "%{family}\n"], capture_output=True, text=True,
                             timeout=30).stdout
    return frozenset(name.strip().lower() for line in listing.splitlines() for name in line.split(","))


def font_problem(settings: "Settings") -> str | None:
    """What is wrong with ``[theme] font`` here, or None."""
    font = settings.theme.font
    if not font:
        return None
    if settings.font_file is not None:
        return None if settings.font_file.is_file() else f"{settings.font_file} not found"
    families = installed_font_families()
    if families is None:
        return f"cannot check the family {font!r}: fontconfig (fc-list) is not installed; name a font file"
    if font.lower() not in families:
        return f"the font family {font!r} is not installed here (fc-list : family lists those that are)"
    return None


def check_theme_files(settings: "Settings") -> None:
    """ConfigError naming the ``[theme]`` key whose file is missing or unfit."""
    if settings.logo_path is not None and (problem := logo_problem(settings.logo_path)):
        raise ConfigError(f"[theme] logo: {problem}")
    if problem := font_problem(settings):
        raise ConfigError(f"[theme] font: {problem}")


SECTIONS: dict[str, Any] = {f.name: f.type for f in dataclasses.fields(Settings)
                             if f.name != "base_dir"}
_SECTION_TYPES = get_type_hints(Settings)
class Section(Protocol):
    """A config section: a dataclass that checks its own values."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    def validate(self) -> None: ...


T = TypeVar("T", bound=Section)

#: The documented default configuration at the top of the project.
DEFAULT_CONFIG_PATH = PROJECT_ROOT / "config.toml"


def _find_line(text: str, section: str, key: str | None) -> int | None:
    """The 1-based line of ``[section] key`` in the TOML text, if it can be found."""
    current = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        header = re.match(r"^\[([A-Za-z0-9_.-]+)\]", stripped)
        if header:
            current = header.group(1)
            if key is None and current == section:
                return number
            continue
        if current == section and key and re.match(rf"^{re.escape(key)}\s*=", stripped):
            return number
    return None


def _type_ok(value: Any, expected: Any) -> bool:
    if expected is bool:
        return isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is str:
        return isinstance(value, str)
    if getattr(expected, "__origin__", None) is list:
        (inner,) = expected.__args__
        return isinstance(value, list) and all(_type_ok(v, inner) for v in value)
    if getattr(expected, "__origin__", None) is tuple:  # a TOML array of fixed length
        return (isinstance(value, list) and len(value) == len(expected.__args__)
                and all(_type_ok(v, t) for v, t in zip(value, expected.__args__)))
    return False


def _converted(value: Any, expected: Any) -> Any:
    """A checked TOML value as the field holds it (an integer given for a float, an array
    for a tuple)."""
    if expected is float:
        return float(value)
    if getattr(expected, "__origin__", None) is tuple:
        return tuple(_converted(v, t) for v, t in zip(value, expected.__args__))
    return value


def _type_name(expected: Any) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    if expected in names:
        return names[expected]
    if getattr(expected, "__origin__", None) is list:
        return f"a list of {_type_name(expected.__args__[0]).removeprefix('an ').removeprefix('a ')}s"
    if getattr(expected, "__origin__", None) is tuple:
        kinds = ", ".join(_type_name(t).removeprefix("an ").removeprefix("a ") for t in expected.__args__)
        return f"a list of {len(expected.__args__)} ({kinds})"
    return str(expected)


def from_table(cls: type[T], table: Any, *, section: str, where: str, text: str = "",
               **given: Any) -> T:
    """A ``cls`` dataclass (with a ``validate()``) from the TOML table ``[section]``,
    checked as every config section is: an unknown or missing key, a wrong type or a
    bad value raises a one-line :class:`ConfigError` naming the key and, where ``text``
    (the file's) shows it, its line. ``given`` are fields that do not come from the
    table (a style's name)."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [{section}] must be a table")
    hints = {k: v for k, v in get_type_hints(cls).items() if k not in given}

    def at(key: str | None) -> str:
        line = _find_line(text, section, key)
        return f"{where}:{line}" if line else where

    values = {}
    for key, value in table.items():
        if (section, key) in RETIRED_KEYS:
            log.warning("%s: [%s] %s is no longer used (%s): remove it", at(key), section, key,
                        RETIRED_KEYS[section, key])
            continue
        if key not in hints:
            raise ConfigError(f"{at(key)}: [{section}] unknown key {key!r} (known: {', '.join(hints)})")
        if not _type_ok(value, hints[key]):
            raise ConfigError(f"{at(key)}: [{section}] {key}: expected {_type_name(hints[key])}, "
                              f"got {value!r}")
        values[key] = _converted(value, hints[key])
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in values and f.name not in given
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{at(None)}: [{section}] missing {', '.join(missing)}")
    built = cls(**values, **given)
    try:
        built.validate()
    except ValueError as exc:
        # Every message starts with the key it is about: point at that key's line.
        named = next((k for k in values if str(exc).startswith(k)), None)
        raise ConfigError(f"{at(named)}: [{section}] {exc}") from None
    return built


def load(path: str | os.PathLike | None = None) -> Settings:
    """Read and validate a config file; ``None`` reads the documented defaults.

    Raises :class:`ConfigError` (one line) for a missing file, bad TOML, an unknown
    section or key, a wrong type or a bad value.
    """
    path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{where}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read config file ({exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    return from_dict(data, where=where, text=text, base_dir=path.resolve().parent)


#: A key of older configs, still read: ``[storage] retention_days = N`` keeps originals
#: and results N x 24 hours ([privacy] keep_originals_hours, keep_results_hours).
OLD_RETENTION_KEY = "retention_days"


def moved_retention(data: dict, where: str, text: str) -> dict:
    """``data`` with an older config's ``[storage] retention_days`` moved to its
    ``[privacy]`` keys; ConfigError when it is malformed or the new keys are set too."""
    storage = data.get("storage")
    if not isinstance(storage, dict) or OLD_RETENTION_KEY not in storage:
        return data
    line = _find_line(text, "storage", OLD_RETENTION_KEY)
    at = f"{where}:{line}" if line else where
    days = storage[OLD_RETENTION_KEY]
    if not _type_ok(days, int) or days < 0:
        raise ConfigError(f"{at}: [storage] retention_days: expected a whole number of days >= 0, "
                          f"got {days!r} (better: [privacy] keep_originals_hours and keep_results_hours)")
    privacy = dict(data.get("privacy") or {})
    hours_keys = ("keep_originals_hours", "keep_results_hours")
    if any(key in privacy for key in hours_keys):
        raise ConfigError(f"{at}: [storage] retention_days moved to [privacy] keep_originals_hours "
                          "and keep_results_hours; remove retention_days")
    if days:
        privacy.update({key: days * 24 for key in hours_keys})
    storage = {k: v for k, v in storage.items() if k != OLD_RETENTION_KEY}
    return {**data, "storage": storage, "privacy": privacy}


#: Keys of older configs that moved to another section, still read there.
MOVED_KEYS = {("web", "accent_color"): "theme", ("web", "background_color"): "theme"}


def moved_keys(data: dict, where: str, text: str) -> dict:
    """``data`` with an older config's keys (:data:`MOVED_KEYS`) in their new section;
    ConfigError when the new section sets the key too."""
    data = dict(data)
    for (old_section, key), new_section in MOVED_KEYS.items():
        old_table = data.get(old_section)
        if not isinstance(old_table, dict) or key not in old_table:
            continue
        new_table = data.get(new_section)
        new_table = dict(new_table) if isinstance(new_table, dict) else {}
        if key in new_table:
            line = _find_line(text, old_section, key)
            at = f"{where}:{line}" if line else where
            raise ConfigError(f"{at}: [{old_section}] {key} moved to [{new_section}]; "
                              f"remove it from [{old_section}]")
        new_table[key] = old_table[key]
        data[old_section] = {k: v for k, v in old_table.items() if k != key}
        data[new_section] = new_table
    return data


def from_dict(data: dict, *, where: str = "<config>", text: str = "",
              base_dir: Path = PROJECT_ROOT) -> Settings:
    """Validated settings from a parsed TOML document (missing keys get defaults)."""
    data = moved_keys(moved_retention(data, where, text), where, text)
    sections = {}
    for name, table in data.items():
        if name not in SECTIONS:
            line = _find_line(text, name, None)
            at = f"{where}:{line}" if line else where
            raise ConfigError(f"{at}: unknown section [{name}] (known: {', '.join(SECTIONS)})")
        sections[name] = from_table(_SECTION_TYPES[name], table, section=name, where=where, text=text)
    try:
        return Settings(**sections, base_dir=base_dir)
    except ConfigError as exc:  # "[theme] logo: ...": point at that key's line
        key = re.match(r"\[theme\] (\w+):", str(exc))
        line = _find_line(text, "theme", key.group(1)) if key else None
        raise ConfigError(f"{where}:{line}: {exc}" if line else f"{where}: {exc}") from None


def defaults() -> Settings:
    """The built-in defaults (what config.toml documents)."""
    return Settings()
