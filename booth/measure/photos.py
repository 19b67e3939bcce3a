"""The photo sets measurements run on: where they are, their files, booth crops of them.

The shared set is a folder with ``faces/`` (one person each), ``groups/`` (``groupN_*``:
N people) and ``scenes/`` (crowds, places, no subject); ``$BOOTH_PHOTOS`` names it, else
``../shared/photos`` beside the project.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from booth import PROJECT_ROOT, config
from booth.errors import ImageError, UserError
from booth.model.quantize import booth_crop
from booth.vision.face import FaceDetector
from booth.vision.images import PHOTO_SUFFIXES, load_image

#: The environment variable that names the shared photo set.
PHOTOS_ENV = "BOOTH_PHOTOS"


def photo_set(given: str | os.PathLike | None = None) -> Path:
    """The photo set's folder: ``given``, else $BOOTH_PHOTOS, else ../shared/photos."""
    return Path(given or os.environ.get(PHOTOS_ENV) or PROJECT_ROOT.parent / "shared" / "photos")


def photos_in(folder: Path) -> list[Path]:
    """The photo files in ``folder`` (not below it), by name; none if it is not a folder."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES and p.is_file())


def photo_files(names: Sequence[str], default: Sequence[str]) -> list[Path]:
    """Every photo in the folders ``names``, else in the photo set's subfolders
    ``default``; a one-line UserError for a folder that is not one, or no photo in any."""
    folders = [Path(n) for n in names] if names else [photo_set() / d for d in default]
    for folder in folders:
        if not folder.is_dir():
            raise UserError(f"{folder}: not a folder of photos")
    files = [path for folder in folders for path in photos_in(folder)]
    if not files:
        raise UserError(f"no photos ({', '.join(PHOTO_SUFFIXES)}) in {', '.join(map(str, folders))}")
    return files


def load_photos(files: Sequence[Path], max_pixels: int, column: int = 32) -> Iterator[tuple[str, Path, np.ndarray]]:
    """(name as "folder/file", path, RGB) of each photo; one that cannot be decoded is
    said on stderr (its name padded to ``column``, the caller's table) and skipped, so
    one bad file does not end a long measurement."""
    for path in files:
        name = f"{path.parent.name}/{path.name}"
        try:
            rgb = load_image(path, max_pixels=max_pixels)
        except ImageError as exc:
            print(f"{name:{column}} skipped: {exc}", file=sys.stderr)
            continue
        yield name, path, rgb


def photo_crops(photos: Path, size: int = 512, aspect: float | None = None) -> list[np.ndarray]:
    """Booth crops (uint8 RGB) of every photo in faces/ and groups/."""
    settings = config.defaults()
    aspect = aspect or settings.face.aspect
    detector = FaceDetector.from_settings(settings)
    files = photos_in(photos / "faces") + photos_in(photos / "groups")
    return [booth_crop(load_image(f), size, aspect, detector) for f in files]
