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
from PIL import Image, UnidentifiedImageError

from booth.errors import ImageError

#: Pillow's own bomb check is replaced by ours (a clear message, configurable limit).
Image.MAX_IMAGE_PIXELS = None

DEFAULT_MAX_PIXELS = 40_000_000
#: File endings of the photos read from a folder (the formats :func:`decode_image` takes).
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")

_SIGNATURES = {
    b"\xff\xd8\xff": "JPEG",
    b"\x89PNG\r\n\x1a\n": "PNG",
}


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


#: Header scans look this far into a file, no further: a JPEG's frame header comes
#: after its metadata segments (EXIF, ICC profile), which phones keep well under this.
HEADER_SCAN_BYTES = 512 * 1024


def header_size(data: bytes, kind: str) -> tuple[int, int] | None:
    """(width, height) read straight from a JPEG, PNG or WebP header, or None.

    A JPEG is walked segment by segment (each length jumps to the next marker) within
    :data:`HEADER_SCAN_BYTES`, up to its frame header; anything else where a marker
    belongs (junk, zeros) ends the walk at once: no byte-by-byte scan of a large body.
    """
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
        end = min(len(data), HEADER_SCAN_BYTES)
        i = 2
        while i + 9 < end:
            if data[i] != 0xFF:
                return None  # not a marker where one must be
            marker = data[i + 1]
            if marker == 0xFF:  # fill byte before a marker
                i += 1
                continue
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                return int.from_bytes(data[i + 7:i + 9], "big"), int.from_bytes(data[i + 5:i + 7], "big")
            if marker in (0xD9, 0xDA):  # end of image, or pixel data before any frame header
                return None
            i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    return None


def _check_pixels(name: str, size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise ImageError(f"{name}: the image has no pixels ({width}×{height})")
    if width * height > max_pixels:
        raise ImageError(f"{name}: {width}×{height} pixels is too large "
                         f"(the limit is {max_pixels / 1e6:.0f} megapixels)")


#: Peak memory of a decode, in bytes per pixel of the full-size image, by how the
#: format is decoded (see :func:`decode_image`). Measured on the worst legal file of
#: each format at 40 megapixels (tests/test_upload_abuse.py prints the figures), then
#: rounded up: Pillow holds 4 bytes a pixel for RGB(A) whatever the file's bit depth;
#: a progressive JPEG keeps its DCT coefficients (2 bytes per sample, 3 samples a
#: pixel without chroma subsampling) at any draft scale; libwebp's decoder keeps a
#: canvas beside the array it fills; libheif holds the YUV planes and the RGBA result,
#: plus its decoding threads' tiles (the peak varied from 6.7 to 9.5 bytes a pixel).
#: A CMYK JPEG has a fourth sample per pixel; a HEIC deeper than 8 bits is decoded at
#: 16 bits and then converted (measured 9.3 bytes a pixel at 10 bits).
DECODE_BYTES_PER_PIXEL = {"JPEG": 7.0, "CMYK JPEG": 9.5, "PNG": 4.5, "WEBP": 7.5,
                          "HEIC": 8.0, "10-bit HEIC": 11.0}
#: Bytes per pixel of the reduced picture while it becomes 8-bit RGB (a few copies),
#: and what every decode needs besides (libraries' buffers, the interpreter's own).
REDUCED_BYTES_PER_PIXEL = 16
DECODE_OVERHEAD_BYTES = 16 * 1024 * 1024


def decode_cost(kind: str, size: tuple[int, int], max_side: int | None = None) -> int:
    """Bytes a decode of a ``kind`` image (a key of :data:`DECODE_BYTES_PER_PIXEL`) of
    ``size`` takes at its peak (an estimate), reduced to ``max_side`` when given."""
    width, height = size
    pixels = width * height
    kept = pixels
    if max_side:
        factor = max(1, max(width, height) // max_side)
        kept = pixels // (factor * factor)
    return int(pixels * DECODE_BYTES_PER_PIXEL[kind] + kept * REDUCED_BYTES_PER_PIXEL + DECODE_OVERHEAD_BYTES)


def check_budget(name: str, kind: str, size: tuple[int, int], max_side: int | None,
                 budget_bytes: int | None) -> None:
    """Refuse, before any pixel is decoded, an image whose decode would exceed the budget."""
    if budget_bytes is None:
        return
    cost = decode_cost(kind, size, max_side)
    if cost > budget_bytes:
        width, height = size
        raise ImageError(f"{name}: a {width}×{height} {kind} photo needs about {cost / 1e6:.0f} MB to "
                         f"read and the booth reads photos within {budget_bytes / 1e6:.0f} MB; "
                         f"send a smaller photo or a JPEG")


#: How EXIF orientation (tag 0x0112) turns the stored picture upright.
_ORIENTATION = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
                4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
                6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
                8: Image.Transpose.ROTATE_90}
#: Modes Pillow's ``reduce`` works on.
_REDUCIBLE = {"L", "LA", "La", "I", "F", "RGB", "RGBA", "RGBa", "CMYK", "YCbCr", "PA"}


def orientation_of(exif: Image.Exif | None) -> int:
    try:
        value = int(exif.get(0x0112, 1)) if exif is not None else 1
    except (TypeError, ValueError):
        return 1
    return value if value in _ORIENTATION else 1


#: Rows of the full-size picture converted at a time while it is reduced.
SHRINK_STRIP_ROWS = 256


def shrink(image: Image.Image, max_side: int | None) -> Image.Image:
    """``image`` reduced by a whole factor, so that its long side stays at least
    ``max_side``; as is without ``max_side``, or when it is already small.

    The full-size picture is reduced a strip of rows at a time: whatever its mode
    needs first (premultiplied alpha, palette to pixels, 16 to 32 bits) is done on
    one strip, never on a second full-size copy.
    """
    if not max_side:
        return image
    factor = max(image.size) // max_side
    if factor < 2:
        return image
    width, height = image.size
    rows = max(factor, SHRINK_STRIP_ROWS // factor * factor)
    reduced: Image.Image | None = None
    for top in range(0, height, rows):
        strip = _reducible(image.crop((0, top, width, min(height, top + rows)))).reduce(factor)
        if reduced is None:
            reduced = Image.new(strip.mode, (-(-width // factor), -(-height // factor)))
        reduced.paste(strip, (0, top // factor))
    assert reduced is not None  # the image has at least one row: one strip at least
    return reduced


def _reducible(strip: Image.Image) -> Image.Image:
    """A strip in a mode Pillow's ``reduce`` works on (and :func:`to_rgb8` knows)."""
    mode = strip.mode
    if mode in _REDUCIBLE:
        return strip
    if mode.startswith("I;16"):
        return strip.convert("I")
    if mode == "1":
        return strip.convert("L")
    return strip.convert("RGBA" if mode == "PA" or "transparency" in strip.info else "RGB")


def _upright(rgb: np.ndarray, orientation: int) -> np.ndarray:
    if orientation == 1:
        return rgb
    return np.ascontiguousarray(np.asarray(Image.fromarray(rgb).transpose(_ORIENTATION[orientation])))


def decode_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, name: str = "image",
                 max_side: int | None = None, budget_bytes: int | None = None) -> np.ndarray:
    """Validate and decode a photo into an upright H×W×3 uint8 RGB array.

    ``max_side`` asks for a picture no longer than that on its long side: a JPEG is then
    decoded straight at a reduced scale (libjpeg's DCT scaling), anything else decoded
    and at once reduced in its own pixel format, before any conversion, so that only
    one full-size copy ever exists. ``budget_bytes`` refuses, before decoding, an image
    whose decode would take more memory (:func:`decode_cost`).
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
            check_budget(name, "CMYK JPEG" if kind == "JPEG" and image.mode == "CMYK" else kind,
                         image.size, max_side, budget_bytes)
            if kind == "WEBP":
                orientation = orientation_of(image.getexif())
                image.close()
                rgb = _decode_webp(data, max_side)
            else:
                if max_side and kind == "JPEG":
                    image.draft(image.mode if image.mode in ("RGB", "L", "CMYK") else "RGB",
                                (max_side, max_side))  # keeps at least max_side per side
                image.load()
                orientation = orientation_of(image.getexif())
                rgb = to_rgb8(shrink(image, max_side))
                image.close()
                del image
            rgb = _upright(rgb, orientation)
            return resize_long_side(rgb, max_side) if max_side else rgb
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, cv2.error) as exc:
        reason = str(exc).split("\n")[0] or type(exc).__name__
        if isinstance(exc, UnidentifiedImageError):
            reason = "its contents do not decode"
        raise ImageError(f"{name}: damaged or truncated {kind} file ({reason})") from None


def decode_heic(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, name: str = "image",
                 max_side: int | None = None, budget_bytes: int | None = None) -> np.ndarray:
    """:func:`decode_image` for HEIC (iPhones' photos), with pillow-heif: the size is
    read from the container before any pixel; libheif's decoded RGB(A) buffer is
    reduced without a copy (Pillow reads it where it is)."""
    import pillow_heif  # optional: only HEIC photos need it

    try:
        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)  # header only
        _check_pixels(name, heif.size, max_pixels)
        deep = (heif.info.get("bit_depth") or 8) > 8
        check_budget(name, "10-bit HEIC" if deep else "HEIC", heif.size, max_side, budget_bytes)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            full = Image.frombuffer(heif.mode, heif.size, heif.data, "raw", heif.mode, heif.stride, 1)
            rgb = to_rgb8(shrink(full, max_side))
        del full, heif
        # Upright already: libheif applies the container's turn (irot/imir), which
        # iPhones write alongside the EXIF orientation; applying that too would turn twice.
        return resize_long_side(rgb, max_side) if max_side else rgb
    except ImageError:
        raise
    except (RuntimeError, ValueError, OSError, SyntaxError, EOFError) as exc:
        reason = str(exc).split("\n")[0] or type(exc).__name__
        raise ImageError(f"{name}: damaged or truncated HEIC file ({reason})") from None


def _decode_webp(data: bytes, max_side: int | None) -> np.ndarray:
    """WebP through OpenCV: two full-size copies at the peak (libwebp's canvas and the
    BGR(A) array); Pillow's decoder holds a third, as bytes."""
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
    if bgr is None:
        raise ValueError("its contents do not decode")
    if max_side:
        bgr = resize_long_side(bgr, max_side)
    if bgr.ndim == 2:
        bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
    if bgr.shape[2] == 4:  # onto white, like every other transparent photo
        alpha = bgr[:, :, 3:4].astype(np.float32) / 255.0
        bgr = (bgr[:, :, :3] * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def to_rgb8(image: Image.Image) -> np.ndarray:
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
