"""The photo store: every guest's photo, complete or absent, never half-written.

Per photo the store keeps three JPEG files (no EXIF, no GPS) in a folder named by
the photo's id, and one row in an SQLite index (standard library, WAL journal)::

    <data_dir>/photos/index.sqlite3
    <data_dir>/photos/<id>/original.jpg   the camera frame (or the upload)
    <data_dir>/photos/<id>/anime.jpg      the anime portrait, full resolution
                                          ([storage] result_long_side, 1350 px)
    <data_dir>/photos/<id>/thumb.jpg      the gallery thumbnail

A photo strip or a boomerang is one photo too, with its extra files beside the three
(their names listed in its ``meta["files"]``, written and checked like the others)::

    <data_dir>/photos/<id>/strip.jpg      a strip: the 2x6 in strip (anime.jpg is the 2x2 square)
    <data_dir>/photos/<id>/shot-1.jpg ... a strip: each shot's camera frame (restyling re-renders them)
    <data_dir>/photos/<id>/boomerang.mp4  a boomerang: the H.264 clip (anime.jpg is one frame)
    <data_dir>/photos/<id>/boomerang.webp a boomerang: the animated WebP for browsers without H.264

The order of writing is what makes it crash-safe: each file goes to a temporary
name, is fsynced and renamed; the folder is fsynced; the index row is committed
*last*. A photo is visible only through its row, so a power cut at any instant
leaves it complete or absent. Leftovers of an interrupted write (temporary files, a
folder without a row) and rows whose files are gone are cleaned up when the store
opens.

Ids are ``secrets.token_urlsafe(16)`` (128 random bits) that do not start with "-"
(a command line would read such an id as an option): a photo's link is its only
key, so nobody can guess their way through the gallery. Files are reached only
through :meth:`PhotoStore.file_path`, which looks the id up first — a user-supplied
path never reaches the file system.

Guests' photos are never deleted unless ``[storage] retention_days`` says so; when
the disk is below ``min_free_mb``, or a photo's files would take it below, new photos
are refused (:class:`StoreFull`).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from booth.errors import StoreFull
from booth.files import TMP_SUFFIX, fsync_dir, write_atomic
from booth.vision.images import encode_jpeg, thumbnail

log = logging.getLogger(__name__)

#: The kinds of file each photo has.
KINDS = ("original", "anime", "thumb")
#: What the name of a photo's extra file looks like (a strip's or a boomerang's).
EXTRA_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,30}\.(jpg|mp4|webp)$")
#: What an id looks like (token_urlsafe of >= 16 bytes); anything else is unknown.
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
_INDEX_NAME = "index.sqlite3"


def new_id() -> str:
    """A new photo id: 128 random bits, URL-safe, never starting with "-"."""
    while True:
        photo_id = secrets.token_urlsafe(16)
        if not photo_id.startswith("-"):
            return photo_id


_SCHEMA = """
CREATE TABLE IF NOT EXISTS photos (
    id      TEXT PRIMARY KEY,
    created REAL NOT NULL,
    source  TEXT NOT NULL,
    size    INTEGER NOT NULL,
    faces   INTEGER NOT NULL,
    meta    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS photos_created ON photos (created);
CREATE TABLE IF NOT EXISTS variants (
    photo_id TEXT NOT NULL,
    style    TEXT NOT NULL,
    created  REAL NOT NULL,
    PRIMARY KEY (photo_id, style)
);
"""
#: Later columns, added to an older index when it opens (see :func:`migrate`).
_ADDED_COLUMNS = {
    # The key of the photo's own QR link: whoever has it may see the original.
    "owner_key": "ALTER TABLE photos ADD COLUMN owner_key TEXT NOT NULL DEFAULT ''",
}
#: A photo re-rendered in another style is kept as ``<id>/variant-<style>.jpg`` with a
#: row in ``variants`` (written like a photo: file first, row last).
VARIANT_PATTERN = re.compile(r"^[a-z0-9_]{1,32}$")


@dataclass(frozen=True)
class Photo:
    id: str
    created: float  #: epoch seconds
    source: str     #: "booth" | "upload"
    size: int       #: generator size chosen (long side)
    faces: int      #: faces found in the frame
    meta: dict = field(default_factory=dict)  #: timings etc.
    #: The secret in the photo's own QR link (not its id: the gallery lists ids).
    owner_key: str = ""


def extra_files(photo: Photo) -> list[str]:
    """The names of a photo's extra files (none for a plain photo)."""
    return [name for name in photo.meta.get("files", []) if EXTRA_PATTERN.match(str(name))]


def migrate(db: sqlite3.Connection) -> None:
    """Bring an index written by an older booth up to date, in one transaction: the
    columns it lacks are added, and photos it already holds get an owner key."""
    have = {row[1] for row in db.execute("PRAGMA table_info(photos)")}
    missing = [sql for name, sql in _ADDED_COLUMNS.items() if name not in have]
    if not missing:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        for sql in missing:
            db.execute(sql)
        # 128 random bits each, like the keys of new photos.
        db.execute("UPDATE photos SET owner_key = lower(hex(randomblob(16))) WHERE owner_key = ''")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    log.info("photo index: added %s", ", ".join(n for n in _ADDED_COLUMNS if n not in have))


class PhotoStore:
    """Photos on disk plus their SQLite index (see the module docstring)."""

    def __init__(self, root: Path, settings_storage) -> None:
        self.root = Path(root)
        self.settings = settings_storage
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # one connection, shared by the booth and web threads
        self._db = sqlite3.connect(self.root / _INDEX_NAME, check_same_thread=False,
                                   isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a committed row survives a power cut
        self._db.executescript(_SCHEMA)
        migrate(self._db)
        self.repaired = self.repair()
        if self.settings.retention_days:
            self.prune()

    # --- reading -------------------------------------------------------------------
    @staticmethod
    def _photo(row: tuple) -> Photo:
        photo_id, created, source, size, faces, meta, owner_key = row
        return Photo(photo_id, created, source, size, faces, json.loads(meta), owner_key)

    def get(self, photo_id: str) -> Photo | None:
        """The photo with this id; None for an unknown or malformed id."""
        if not isinstance(photo_id, str) or not ID_PATTERN.match(photo_id):
            return None
        with self._lock:
            row = self._db.execute("SELECT id, created, source, size, faces, meta, owner_key FROM photos "
                                   "WHERE id = ?", (photo_id,)).fetchone()
        return self._photo(row) if row else None

    def list(self, limit: int = 24, offset: int = 0, source: str | None = None) -> list[Photo]:
        """Photos newest first."""
        limit, offset = max(0, int(limit)), max(0, int(offset))
        where, args = ("WHERE source = ?", (source,)) if source else ("", ())
        with self._lock:
            rows = self._db.execute(
                f"SELECT id, created, source, size, faces, meta, owner_key FROM photos {where} "
                "ORDER BY created DESC, rowid DESC LIMIT ? OFFSET ?", (*args, limit, offset)).fetchall()
        return [self._photo(r) for r in rows]

    def count(self, source: str | None = None) -> int:
        where, args = ("WHERE source = ?", (source,)) if source else ("", ())
        with self._lock:
            return self._db.execute(f"SELECT COUNT(*) FROM photos {where}", args).fetchone()[0]

    def file_path(self, photo_id: str, kind: str) -> Path | None:
        """The file of one photo (``kind``: original, anime or thumb); None if unknown."""
        if kind not in KINDS or self.get(photo_id) is None:
            return None
        return self.root / photo_id / f"{kind}.jpg"

    def extra_path(self, photo_id: str, name: str) -> Path | None:
        """One of a photo's extra files (``strip.jpg``, ``boomerang.mp4``...); None unless
        the photo has it."""
        photo = self.get(photo_id)
        if photo is None or name not in extra_files(photo):
            return None
        return self.root / photo_id / name

    def variants(self, photo_id: str) -> list[str]:
        """The styles this photo was re-rendered in, oldest first."""
        if self.get(photo_id) is None:
            return []
        with self._lock:
            rows = self._db.execute("SELECT style FROM variants WHERE photo_id = ? "
                                    "ORDER BY created, rowid", (photo_id,)).fetchall()
        return [r[0] for r in rows]

    def variant_path(self, photo_id: str, style: str) -> Path | None:
        """The file of one variant; None unless it is complete (its row committed)."""
        if not VARIANT_PATTERN.match(style) or style not in self.variants(photo_id):
            return None
        return self.root / photo_id / f"variant-{style}.jpg"

    # --- disk space ----------------------------------------------------------------
    def free_mb(self) -> float:
        """Free space on the store's file system, in MiB."""
        return shutil.disk_usage(self.root).free / (1024 * 1024)

    def has_room(self) -> bool:
        """True while the disk is above ``[storage] min_free_mb``."""
        return self.free_mb() >= self.settings.min_free_mb

    # --- writing -------------------------------------------------------------------
    def save(self, original_rgb: np.ndarray, stylized_rgb: np.ndarray, meta: dict,
             source: str = "booth", extras: dict[str, bytes] | None = None) -> Photo:
        """Store one photo (files first, index row last); raises :class:`StoreFull`.
        ``extras``: a strip's or a boomerang's further files by name (:data:`EXTRA_PATTERN`),
        stored with it as one item."""
        if not self.has_room():
            raise StoreFull(f"only {self.free_mb():.0f} MB free on the booth's disk "
                            f"(the floor is {self.settings.min_free_mb} MB)")
        extras = dict(extras or {})
        for name in extras:
            if not EXTRA_PATTERN.match(name) or name.removesuffix(".jpg") in KINDS:
                raise ValueError(f"extra file name {name!r}: lower-case letters, digits and - "
                                 "with .jpg, .mp4 or .webp, and none of the photo's own files")
        quality = self.settings.jpeg_quality
        files = {
            "original.jpg": encode_jpeg(original_rgb, quality),
            "anime.jpg": encode_jpeg(stylized_rgb, quality),
            "thumb.jpg": encode_jpeg(thumbnail(stylized_rgb, self.settings.thumb_size), quality),
        } | extras
        if extras:
            meta = dict(meta) | {"files": sorted(extras)}
        # The floor holds after this photo too: a 12 MP original and a full-resolution
        # portrait are several MB together.
        needed_mb = sum(len(data) for data in files.values()) / (1024 * 1024)
        if self.free_mb() - needed_mb < self.settings.min_free_mb:
            raise StoreFull(f"only {self.free_mb():.0f} MB free on the booth's disk and this "
                            f"photo needs {needed_mb:.1f} MB (the floor is "
                            f"{self.settings.min_free_mb} MB)")
        photo = Photo(id=new_id(), created=time.time(), source=source,
                      size=int(meta.get("size", 0)), faces=int(meta.get("faces", 0)),
                      meta=dict(meta), owner_key=secrets.token_urlsafe(16))
        folder = self.root / photo.id
        folder.mkdir()
        try:
            for name, data in files.items():
                write_atomic(folder / name, data)
            fsync_dir(folder)
            fsync_dir(self.root)
            with self._lock:
                self._db.execute("INSERT INTO photos (id, created, source, size, faces, meta, owner_key) "
                                 "VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 (photo.id, photo.created, photo.source, photo.size,
                                  photo.faces, json.dumps(photo.meta, default=float), photo.owner_key))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # e.g. ENOSPC half-way: leave nothing
            raise
        return photo

    def save_variant(self, photo_id: str, style: str, stylized_rgb: np.ndarray) -> Path:
        """Keep a re-rendering of a photo in another style: file first, row last, so it
        is complete or absent. Rendering a style again replaces the earlier variant."""
        if not VARIANT_PATTERN.match(style):
            raise ValueError(f"style name {style!r}: lower-case letters, digits and _ only")
        if self.get(photo_id) is None:
            raise KeyError(f"no photo {photo_id!r}")
        if not self.has_room():
            raise StoreFull(f"only {self.free_mb():.0f} MB free on the booth's disk "
                            f"(the floor is {self.settings.min_free_mb} MB)")
        path = self.root / photo_id / f"variant-{style}.jpg"
        write_atomic(path, encode_jpeg(stylized_rgb, self.settings.jpeg_quality))
        fsync_dir(path.parent)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO variants (photo_id, style, created) "
                             "VALUES (?, ?, ?)", (photo_id, style, time.time()))
        return path

    def delete(self, photo_id: str) -> bool:
        """Remove a photo (the row first, so it vanishes at once); True if it existed."""
        if self.get(photo_id) is None:
            return False
        with self._lock:
            self._db.execute("DELETE FROM photos WHERE id = ?", (photo_id,))
            self._db.execute("DELETE FROM variants WHERE photo_id = ?", (photo_id,))
        shutil.rmtree(self.root / photo_id, ignore_errors=True)
        return True

    def prune(self, now: float | None = None) -> int:
        """Delete photos older than ``retention_days`` (never when it is 0); returns how many."""
        days = self.settings.retention_days
        if not days:
            return 0
        cutoff = (now if now is not None else time.time()) - days * 86400
        with self._lock:
            old = [r[0] for r in self._db.execute("SELECT id FROM photos WHERE created < ?", (cutoff,))]
        for photo_id in old:
            self.delete(photo_id)
        if old:
            log.info("retention: deleted %d photos older than %d days", len(old), days)
        return len(old)

    def repair(self) -> dict[str, int]:
        """Make disk and index agree after a crash; returns what was cleaned up.

        Removes temporary files, folders without an index row (a write interrupted
        before its commit) and rows whose files are missing.
        """
        with self._lock:
            ids = {r[0] for r in self._db.execute("SELECT id FROM photos")}
        cleaned = {"temp_files": 0, "orphan_folders": 0, "orphan_rows": 0}
        for entry in self.root.iterdir():
            if not entry.is_dir():
                continue
            if entry.name not in ids:
                shutil.rmtree(entry, ignore_errors=True)
                cleaned["orphan_folders"] += 1
                continue
            for tmp in entry.glob("*" + TMP_SUFFIX):
                tmp.unlink(missing_ok=True)
                cleaned["temp_files"] += 1
        with self._lock:
            metas = dict(self._db.execute("SELECT id, meta FROM photos").fetchall())
        for photo_id in ids:
            names = [f"{k}.jpg" for k in KINDS] + json.loads(metas.get(photo_id, "{}")).get("files", [])
            if not all((self.root / photo_id / name).is_file() for name in names):
                with self._lock:
                    self._db.execute("DELETE FROM photos WHERE id = ?", (photo_id,))
                shutil.rmtree(self.root / photo_id, ignore_errors=True)
                cleaned["orphan_rows"] += 1
        variants = self._repair_variants()
        if any(cleaned.values()):
            log.warning("photo store repaired after an interrupted write: %s", cleaned)
        if variants:
            log.warning("photo store: %d restyled variants without their file or row removed", variants)
        return cleaned

    def _repair_variants(self) -> int:
        """Variant rows without their photo or file, and variant files without a row."""
        with self._lock:
            rows = self._db.execute("SELECT photo_id, style FROM variants").fetchall()
            photos = {r[0] for r in self._db.execute("SELECT id FROM photos")}
        cleaned = 0
        kept = set()
        for photo_id, style in rows:
            if photo_id in photos and (self.root / photo_id / f"variant-{style}.jpg").is_file():
                kept.add((photo_id, style))
                continue
            with self._lock:
                self._db.execute("DELETE FROM variants WHERE photo_id = ? AND style = ?",
                                 (photo_id, style))
            cleaned += 1
        for photo_id in photos:
            for path in (self.root / photo_id).glob("variant-*.jpg"):
                if (photo_id, path.stem.removeprefix("variant-")) not in kept:
                    path.unlink(missing_ok=True)  # written, but its row never committed
                    cleaned += 1
        return cleaned

    def close(self) -> None:
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass
            self._db.close()
