"""The photo sets measurements run on: where they are, their files, booth crops of them
(and a face style's face crops).

A photo set is a folder with ``faces/`` (one person each), ``groups/`` (several people)
and ``scenes/`` (crowds, places, no subject), and may have ``hires/`` (camera-native
portraits). The default is the public set `booth weights fetch --photos` (./install.sh
--test) fetched into ``weights/photos/``; ``--photos DIR`` names another (a private one).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from booth import config
from booth.errors import ImageError, UserError
from booth.model import weights
from booth.model.quantize import booth_crop
from booth.vision.face import FaceDetector
from booth.vision.images import PHOTO_SUFFIXES, load_image
from booth.vision.pipeline import face_crops
from booth.vision.styles import Style

#: The sub-folders a photo set may have (at least one of them).
SET_FOLDERS = ("faces", "groups", "scenes", "hires")
#: What makes the public set appear where it is missing.
FETCH_HINT = "run ./install.sh --test (or booth weights fetch --photos)"


def is_photo_set(folder: Path) -> bool:
    """True when ``folder`` has at least one of a photo set's sub-folders."""
    return any((folder / name).is_dir() for name in SET_FOLDERS)


def photo_set(given: str | os.PathLike | None = None) -> Path:
    """The photo set's folder: ``given`` (a one-line UserError when it is not a photo
    set: no faces/, groups/, scenes/ or hires/), else the fetched public set (which
    may be missing: :func:`require_set` says how to fetch it)."""
    if not given:
        return weights.photos_dir()
    folder = Path(given).expanduser()
    if not is_photo_set(folder):
        raise UserError(f"--photos {given}: not a photo set (a folder with "
                        f"{', '.join(n + '/' for n in SET_FOLDERS)})")
    return folder


def require_set(folder: Path) -> Path:
    """``folder`` if it holds a photo set, else a one-line UserError saying how to fetch
    the public one."""
    if not is_photo_set(folder):
        raise UserError(f"no photo set in {folder}: {FETCH_HINT}")
    return folder


def photos_in(folder: Path) -> list[Path]:
    """The photo files in ``folder`` (not below it), by name; none if it is not a folder."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES and p.is_file())


def photo_files(names: Sequence[str], default: Sequence[str],
                photos: str | os.PathLike | None = None) -> list[Path]:
    """Every photo in the folders ``names``, else in the subfolders ``default`` of the
    photo set ``photos`` (default: the public set) that it has; a one-line UserError for
    a folder that is not one, or no photo in any."""
    if names:
        folders = [Path(n) for n in names]
    else:
        root = require_set(photo_set(photos))
        folders = [root / d for d in default if (root / d).is_dir()] or [root / default[0]]
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
    return crops_of(photos_in(photos / "faces") + photos_in(photos / "groups"), size, aspect)


def face_crops_of(files: Sequence[Path], style: Style) -> list[np.ndarray]:
    """Each face's own crop (uint8 RGB) in ``files``, as the face style ``style`` runs on it."""
    detector = FaceDetector.from_settings(config.defaults())
    crops = []
    for path in files:
        rgb = load_image(path)
        crops += [crop for _, crop in face_crops(rgb, detector.detect(rgb), style)]
    return crops


def crops_of(files: Sequence[Path], size: int = 512, aspect: float | None = None) -> list[np.ndarray]:
    """Booth crops (uint8 RGB) of ``files``, as the booth frames them for the generator."""
    settings = config.defaults()
    aspect = aspect or settings.face.aspect
    detector = FaceDetector.from_settings(settings)
    return [booth_crop(load_image(f), size, aspect, detector) for f in files]
