"""Reading and writing photos safely.

Every photo that enters the booth — a file on the command line, a phone upload —
goes through :func:`decode_image`, which checks *before decoding anything*:

* the type, by the file's first bytes (not its name): JPEG, PNG or WebP;
* the pixel count, read from the header, so a 30000×30000 "decompression bomb" is
  refused without allocating its pixels;

and then decodes into plain 8-bit RGB whatever the source was (grayscale, CMYK JPEG,
PNG with alpha, 16-bit PNG), turned upright by its EXIF orientation. Every problem is
an :class:`ImageError` with one sentence a person can act on.

Images leave the booth through :func:`encode_jpeg`, which writes no metadata at all:
no EXIF, no GPS position from a guest's phone.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: Pillow's own bomb check is replaced by ours (a clear message, configurable limit).
Image.MAX_IMAGE_PIXELS = None

DEFAULT_MAX_PIXELS = 40_000_000

_SIGNATURES = {
    b"\xff\xd8\xff": "JPEG",
    b"\x89PNG\r\n\x1a\n": "PNG",
}


class ImageError(ValueError):
    """A photo that cannot be used, with the reason in one sentence."""


def sniff_type(data: bytes) -> str | None:
    """"JPEG", "PNG" or "WEBP" from the first bytes, or None."""
    for magic, kind in _SIGNATURES.items():
        if data.startswith(magic):
            return kind
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _describe_unsupported(data: bytes) -> str:
    if len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
        return "HEIC photos are not supported; set the phone camera to 'Most Compatible' (JPEG) or share as JPEG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF images are not supported; send a JPEG, PNG or WebP photo"
    return "not a JPEG, PNG or WebP image"


def header_size(data: bytes, kind: str) -> tuple[int, int] | None:
    """(width, height) read straight from a JPEG, PNG or WebP header, or None."""
    if kind == "PNG" and len(data) >= 24 and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if kind == "WEBP" and len(data) >= 30:
        chunk = data[12:16]
        if chunk == b"VP8X":
            return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
        if chunk == b"VP8 ":
            return (int.from_bytes(data[26:28], "little") & 0x3FFF,
                    int.from_bytes(data[28:30], "little") & 0x3FFF)
        if chunk == b"VP8L" and len(data) >= 25:
            bits = int.from_bytes(data[21:25], "little")
            return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if kind == "JPEG":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
                i += 1 if marker == 0xFF else 2
                continue
            length = int.from_bytes(data[i + 2:i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                return int.from_bytes(data[i + 7:i + 9], "big"), int.from_bytes(data[i + 5:i + 7], "big")
            i += 2 + length
    return None


def _check_pixels(name: str, size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise ImageError(f"{name}: the image has no pixels ({width}×{height})")
    if width * height > max_pixels:
        raise ImageError(f"{name}: {width}×{height} pixels is too large "
                         f"(the limit is {max_pixels / 1e6:.0f} megapixels)")


def decode_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, name: str = "image",
                 max_side: int | None = None) -> np.ndarray:
    """Validate and decode a photo into an upright H×W×3 uint8 RGB array.

    ``max_side`` asks for a picture no longer than that on its long side: a JPEG is then
    decoded straight at a reduced scale (libjpeg's DCT scaling: several times faster and
    a fraction of the memory of a full decode), anything else decoded and scaled down.
    Raises :class:`ImageError` naming ``name`` and what is wrong.
    """
    if not data:
        raise ImageError(f"{name}: the file is empty")
    kind = sniff_type(data)
    if kind is None:
        raise ImageError(f"{name}: {_describe_unsupported(data)}")
    declared = header_size(data, kind)
    if declared is not None:  # refuse bombs before Pillow allocates anything
        _check_pixels(name, declared, max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about odd EXIF; we only need pixels
            image = Image.open(io.BytesIO(data))  # lazy: reads the header only
            _check_pixels(name, image.size, max_pixels)
            if max_side and kind == "JPEG":
                image.draft("RGB", (max_side, max_side))  # keeps at least max_side per side
            image.load()
            image = ImageOps.exif_transpose(image)
            rgb = _to_rgb8(image)
            return resize_long_side(rgb, max_side) if max_side else rgb
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        reason = str(exc).split("\n")[0] or type(exc).__name__
        if isinstance(exc, UnidentifiedImageError):
            reason = "its contents do not decode"
        raise ImageError(f"{name}: damaged or truncated {kind} file ({reason})") from None


def _to_rgb8(image: Image.Image) -> np.ndarray:
    """8-bit RGB from any Pillow mode (alpha composited onto white, 16-bit scaled)."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        pixels = np.asarray(image, dtype=np.uint32)
        peak = 65535 if mode.startswith("I;16") or pixels.max(initial=0) > 255 else 255
        gray = (pixels * 255 // peak).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if mode == "F":
        gray = np.clip(np.asarray(image, dtype=np.float32), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def load_image(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS,
               max_bytes: int = 200_000_000) -> np.ndarray:
    """:func:`decode_image` for a file; the error names the file."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ImageError(f"{path}: the file is too large ({size / 1e6:.0f} MB)")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a folder, not a photo") from None
    except OSError as exc:
        raise ImageError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    return decode_image(data, max_pixels=max_pixels, name=str(path))


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    """JPEG bytes of an RGB image, with no metadata."""
    ok, buffer = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                              [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ImageError("could not encode the image as JPEG")
    return buffer.tobytes()


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of an RGB image, with no metadata."""
    ok, buffer = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ImageError("could not encode the image as PNG")
    return buffer.tobytes()


def resize_long_side(rgb: np.ndarray, long_side: int) -> np.ndarray:
    """Downscale (never upscale) so the longer side is at most ``long_side``."""
    h, w = rgb.shape[:2]
    scale = long_side / max(h, w)
    if scale >= 1.0:
        return rgb
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def thumbnail(rgb: np.ndarray, long_side: int) -> np.ndarray:
    """A gallery thumbnail: the image with its longer side at most ``long_side``."""
    return resize_long_side(rgb, long_side)
