"""Photo decoding: every odd but valid photo becomes upright RGB8; bad ones get one line."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from booth.vision.images import decode_image, encode_jpeg, load_image
from booth.errors import ImageError


def _encode(image: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return buf.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr
            + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)))


def test_grayscale_cmyk_alpha_and_16bit_become_rgb8():
    gray = decode_image(_encode(Image.new("L", (40, 30), 77), "PNG"))
    assert gray.shape == (30, 40, 3) and gray.dtype == np.uint8 and (gray == 77).all()
    cmyk = decode_image(_encode(Image.new("CMYK", (40, 30), (0, 255, 255, 0)), "JPEG"))
    assert cmyk.shape == (30, 40, 3) and cmyk[..., 0].mean() > 200 and cmyk[..., 1].mean() < 60  # red
    rgba = Image.new("RGBA", (40, 30), (0, 0, 255, 0))  # fully transparent blue
    assert (decode_image(_encode(rgba, "PNG")) == 255).all()  # composited onto white
    deep = Image.fromarray(np.full((30, 40), 65535, np.uint16))
    assert decode_image(_encode(deep, "PNG")).min() == 255


def test_webp_and_tiny_images():
    assert decode_image(_encode(Image.new("RGB", (31, 31), (1, 2, 3)), "WEBP")).shape == (31, 31, 3)
    assert decode_image(_encode(Image.new("RGB", (1, 1)), "PNG")).shape == (1, 1, 3)


def test_exif_orientation_is_honoured():
    image = Image.new("RGB", (60, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    rgb = decode_image(_encode(image, "JPEG", exif=exif.tobytes()))
    assert rgb.shape == (60, 20, 3)


@pytest.mark.parametrize("data, message", [
    (b"", "the file is empty"),
    (b"GIF89a" + b"\0" * 40, "GIF images are not supported"),
    (b"\0\0\0\x18ftypheic" + b"\0" * 40, "HEIC photos are not supported"),
    (b"just some text", "not a JPEG, PNG or WebP image"),
    (_png_header_only(30000, 30000), "30000×30000 pixels is too large"),
    (b"\xff\xd8\xff\xe0" + b"\0" * 100, "damaged or truncated JPEG file"),
])
def test_bad_input_is_one_clear_line(data, message):
    with pytest.raises(ImageError) as err:
        decode_image(data, name="upload.jpg")
    assert str(err.value).startswith("upload.jpg: ") and message in str(err.value)
    assert "\n" not in str(err.value)


def test_truncated_real_photo(face_photo, tmp_path):
    data = face_photo.read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageError, match="damaged or truncated JPEG"):
        load_image(cut)


def test_load_image_errors_name_the_file(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "missing.jpg")
    with pytest.raises(ImageError, match="is a folder"):
        load_image(tmp_path)


def test_encoded_jpeg_carries_no_metadata(face_photo):
    data = encode_jpeg(load_image(face_photo))
    assert b"Exif" not in data[:4096] and b"GPS" not in data
    assert Image.open(io.BytesIO(data)).getexif() == {}


def test_max_side_decodes_big_jpegs_small(tmp_path):
    big = Image.fromarray(np.random.default_rng(0).integers(0, 256, (3000, 4000, 3), dtype=np.uint8))
    data = _encode(big, "JPEG", quality=80)
    rgb = decode_image(data, max_side=2048)
    assert max(rgb.shape[:2]) == 2048 and rgb.shape[:2] == (1536, 2048)
    png = decode_image(_encode(Image.new("RGB", (3000, 1000)), "PNG"), max_side=600)
    assert png.shape[:2] == (200, 600)
