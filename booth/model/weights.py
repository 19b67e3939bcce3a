"""Model files: the manifest, fetching with checksums, and where the built IR lives.

``weights/manifest.toml`` lists every model file the booth uses with its upstream URL,
sha256, license and provenance. :func:`fetch` brings each file into the weights folder
from the internet or from a mirror folder (a USB stick, or CI's offline copy), checks
its sha256 and only then renames it into place, so a reader never sees a half-written
or wrong file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from booth import PROJECT_ROOT
from booth.errors import WeightsError
from booth.files import write_atomic

#: Where model files and the built IR live (BOOTH_WEIGHTS_DIR overrides it).
WEIGHTS_DIR = Path(os.environ.get("BOOTH_WEIGHTS_DIR") or PROJECT_ROOT / "weights")
MANIFEST_PATH = PROJECT_ROOT / "weights" / "manifest.toml"
#: The INT8 activation ranges that ship with the project (`booth weights calibrate` remakes them).
RANGES_PATH = PROJECT_ROOT / "weights" / "int8_ranges.json"
MIRROR_ENV = "BOOTH_WEIGHTS_MIRROR"
#: The public test photos (faces/, groups/, scenes/, hires/), fetched by
#: `booth weights fetch --photos` (./install.sh --test): the tests' and evals' photo set.
PHOTOS_SUBDIR = "photos"
#: Beside the fetched photos: who took each one and under which licence.
CREDITS_FILE = "CREDITS.md"

#: Built generator IR files, by precision of the graph. "int8" is what the booth runs.
GENERATOR_IR = {
    "int8": "generator_int8.xml",
    "fp32": "generator_fp32.xml",
    "asis": "generator_asis.xml",
}
MODEL_CARD = "generator_card.json"


@dataclass(frozen=True)
class ModelFile:
    key: str
    file: str
    sha256: str
    url: str
    what: str
    provenance: str
    license: str

    @property
    def path(self) -> Path:
        return WEIGHTS_DIR / self.file  # looked up at call time (tests re-point it)


@dataclass(frozen=True)
class PhotoFile(ModelFile):
    """A public test photo: its credit (the manifest's ``credit``, kept as the
    provenance) and how many people show a face in it (0 in scenes/)."""
    faces: int = 0

    @property
    def credit(self) -> str:
        return self.provenance


def _read_manifest(path: Path | None) -> dict:
    return tomllib.loads((path or MANIFEST_PATH).read_text(encoding="utf-8"))


def manifest(path: Path | None = None) -> dict[str, ModelFile]:
    """The files listed in the manifest, by key ("generator", "face_detector", "demo_…")."""
    data = _read_manifest(path)
    return {key: ModelFile(key=key, **entry) for key, entry in data["files"].items()}


def photo_manifest(path: Path | None = None) -> dict[str, PhotoFile]:
    """The public test photos the manifest lists, by key ("faces_18f_edwin_torres", …)."""
    data = _read_manifest(path)
    photos = {}
    for key, entry in data.get("photos", {}).items():
        fields = dict(entry)
        fields["provenance"] = fields.pop("credit")
        photos[key] = PhotoFile(key=key, **fields)
    return photos


def photos_dir() -> Path:
    """Where the public test photos are fetched (looked up at call time: tests re-point
    the weights folder)."""
    return WEIGHTS_DIR / PHOTOS_SUBDIR


def model_path(key: str) -> Path:
    """The local path of a manifest file; raises WeightsError if it is not fetched."""
    entry = manifest()[key]
    if not entry.path.is_file():
        raise WeightsError(f"model file {entry.file} is missing from {WEIGHTS_DIR}: "
                           f"run `booth weights fetch` (or ./install.sh)")
    return entry.path


def ir_path(variant: str = "int8") -> Path:
    """The built generator IR; raises WeightsError if `booth weights build` has not run."""
    path = WEIGHTS_DIR / GENERATOR_IR[variant]
    if not path.is_file():
        raise WeightsError(f"generator IR {path.name} is missing from {WEIGHTS_DIR}: "
                           f"run `booth weights build` (or ./install.sh)")
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(entry: ModelFile) -> bool:
    """True when the file is present and its sha256 matches the manifest."""
    return entry.path.is_file() and sha256_of(entry.path) == entry.sha256


def _copy_from_mirror(entry: ModelFile, mirror: Path, out) -> None:
    source = mirror / entry.file
    if not source.is_file():
        raise WeightsError(f"{entry.file} is not in the mirror folder {mirror}: "
                           f"copy it there (see weights/manifest.toml for its URL)")
    with open(source, "rb") as f:
        shutil.copyfileobj(f, out)


def _download(entry: ModelFile, out, timeout: float = 30.0) -> None:
    try:
        with urllib.request.urlopen(entry.url, timeout=timeout) as response:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise WeightsError(f"cannot download {entry.file} ({reason}): connect to the "
                           f"internet, or pass --mirror DIR (or set {MIRROR_ENV}) with a "
                           f"folder holding the model files") from None


def fetch_one(entry: ModelFile, mirror: Path | None = None) -> str:
    """Bring one file into place; returns "present", "copied" or "downloaded"."""
    if verify(entry):
        return "present"
    # A file may sit in a subfolder of the weights folder ("styles/x.onnx").
    entry.path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{entry.path.name}.", suffix=".part", dir=entry.path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            if mirror is not None:
                _copy_from_mirror(entry, mirror, out)
            else:
                _download(entry, out)
            out.flush()
            os.fsync(out.fileno())
        actual = sha256_of(tmp)
        if actual != entry.sha256:
            source = f"mirror {mirror}" if mirror else entry.url
            raise WeightsError(f"checksum mismatch for {entry.file} from {source}: "
                               f"got sha256 {actual[:16]}…, expected {entry.sha256[:16]}…; "
                               f"the file is damaged or not the published one: fetch it again")
        os.replace(tmp, entry.path)
        return "copied" if mirror else "downloaded"
    finally:
        tmp.unlink(missing_ok=True)


def _mirror_folder(mirror: str | os.PathLike | None) -> Path | None:
    """The mirror argument, else BOOTH_WEIGHTS_MIRROR, else None (download)."""
    mirror = mirror or os.environ.get(MIRROR_ENV) or None
    mirror_path = Path(mirror).expanduser().resolve() if mirror else None
    if mirror_path is not None and not mirror_path.is_dir():
        raise WeightsError(f"mirror folder {mirror_path} does not exist")
    return mirror_path


def fetch(mirror: str | os.PathLike | None = None,
          report: Callable[[str], None] = print, photos: bool = False) -> None:
    """Fetch every manifest file (mirror argument, else BOOTH_WEIGHTS_MIRROR, else online);
    with ``photos``, the public test photos too (:func:`fetch_photos`)."""
    mirror_path = _mirror_folder(mirror)
    for entry in manifest().values():
        how = fetch_one(entry, mirror_path)
        report(f"{entry.file}: {how} (sha256 ok)")
    if photos:
        fetch_photos(mirror_path, report)


def fetch_photos(mirror: str | os.PathLike | None = None,
                 report: Callable[[str], None] = print) -> None:
    """Fetch the public test photos into :func:`photos_dir` (the mirror's ``photos/``
    holds them under the same names), sha256-checked, and write their credits beside
    them."""
    mirror_path = _mirror_folder(mirror)
    entries = photo_manifest()
    for entry in entries.values():
        how = fetch_one(entry, mirror_path)
        report(f"{entry.file}: {how} (sha256 ok)")
    credits = photos_dir() / CREDITS_FILE
    text = credits_text(entries.values())
    if not credits.is_file() or credits.read_text(encoding="utf-8") != text:
        write_atomic(credits, text)


def credits_text(entries) -> str:
    """The credits file: each photo with its credit, licence and upstream URL."""
    lines = ["# The public test photos: credits and licences", "",
             "Fetched by `booth weights fetch --photos` (./install.sh --test) from the URLs in",
             "weights/manifest.toml; each file's sha256 is checked there. Not part of the project.", "",
             "| photo | faces | credit | licence | upstream |", "|---|---|---|---|---|"]
    prefix = PHOTOS_SUBDIR + "/"
    for e in entries:
        lines.append(f"| {e.file.removeprefix(prefix)} | {e.faces} | {e.credit} | {e.license} | {e.url} |")
    return "\n".join(lines) + "\n"


def demo_photos() -> list[Path]:
    """The fetched demo photos (manifest keys starting with "demo_") that are present."""
    return [e.path for e in manifest().values() if e.key.startswith("demo_") and e.path.is_file()]
