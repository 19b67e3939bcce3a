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
opens — by the booth's own store only: a second process (``booth print-layout`` while
the booth runs) opens it ``read_only`` and never repairs, since a photo the booth is
writing that instant looks just like such a leftover.

Ids are ``secrets.token_urlsafe(16)`` (128 random bits) that do not start with "-"
(a command line would read such an id as an option): a photo's link is its only
key, so nobody can guess their way through the gallery. Files are reached only
through :meth:`PhotoStore.file_path`, which looks the id up first — a user-supplied
path never reaches the file system.

Guests' photos are never deleted unless ``[privacy] keep_originals_hours`` and
``keep_results_hours`` say so (:mod:`booth.daemon.retention`, aging photos on the
store's :class:`~booth.daemon.retention.RetentionClock`, kept in the index);
an original deleted early leaves its row saying so (``original_kept``). A delete takes
the row first, so a photo vanishes at once and whole; what a power cut leaves of its
files is removed when the store opens. When the disk is below ``min_free_mb``, or a
photo's files would take it below, new photos are refused (:class:`StoreFull`).
"""

from __future__ import annotations

import builtins
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
from typing import Callable, Protocol

import numpy as np

from booth.daemon.retention import RetentionClock
from booth.errors import StoreFull
from booth.files import TMP_SUFFIX, fsync_dir, remove_leftovers, write_atomic
from booth.vision.images import encode_jpeg, load_image, thumbnail

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
CREATE TABLE IF NOT EXISTS retention_clock (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    elapsed REAL NOT NULL,
    wall    REAL NOT NULL
);
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
    # When it was taken on the retention clock (NULL: older rows, dated when the store opens).
    "born": "ALTER TABLE photos ADD COLUMN born REAL",
    # 0 once retention deleted the original (the anime results stay until their own time).
    "original_kept": "ALTER TABLE photos ADD COLUMN original_kept INTEGER NOT NULL DEFAULT 1",
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
    #: False once retention deleted the original.
    original_kept: bool = True


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


class StoreListener(Protocol):
    """Told of every change once it is committed (e.g. :mod:`booth.daemon.sync`). It is
    called on the writer's thread (a cycle's, a web request's): it must only take note
    and return at once."""

    def photo_stored(self, photo_id: str) -> None:
        """A photo, or a new variant of it, is complete in the store."""

    def photo_deleted(self, photo_id: str) -> None:
        """A photo is gone from the store (admin, guest, retention)."""

    def original_dropped(self, photo_id: str) -> None:
        """A photo's original is gone (retention); its anime results stay."""


class PhotoStore:
    """Photos on disk plus their SQLite index (see the module docstring)."""

    def __init__(self, root: Path, settings_storage, *, read_only: bool = False,
                 monotonic: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.root = Path(root)
        self.settings = settings_storage
        self.read_only = read_only
        self._closed = False
        self._lock = threading.Lock()  # one connection, shared by the booth and web threads
        if read_only:  # a second opener beside the running booth: reads, never repairs
            index = self.root / _INDEX_NAME
            if not index.is_file():
                raise FileNotFoundError(f"no photo store in {self.root}")
            self._db = sqlite3.connect(index.resolve().as_uri() + "?mode=ro", uri=True,
                                       check_same_thread=False, isolation_level=None)
            self.repaired: dict[str, int] = {}
            return
        self.root.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.root / _INDEX_NAME, check_same_thread=False,
                                   isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a committed row survives a power cut
        # A deleted row is overwritten, not just unlinked: no trace of a photo in the index.
        self._db.execute("PRAGMA secure_delete=ON")
        self._db.executescript(_SCHEMA)
        migrate(self._db)
        #: Ages photos for retention (see booth.daemon.retention).
        self.clock = RetentionClock(self._clock_reading(), self._keep_clock_reading,
                                    monotonic=monotonic, wall=wall)
        self._date_unborn()
        self.listeners: list[StoreListener] = []
        self.repaired = self.repair()

    # --- reading -------------------------------------------------------------------
    def _clock_reading(self) -> tuple[float, float] | None:
        with self._lock:
            return self._db.execute("SELECT elapsed, wall FROM retention_clock WHERE id = 1").fetchone()

    def _keep_clock_reading(self, elapsed: float, wall: float) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO retention_clock (id, elapsed, wall) VALUES (1, ?, ?)",
                             (elapsed, wall))

    def _date_unborn(self) -> None:
        """Rows from before the retention clock: born as long ago as the wall clock says."""
        with self._lock:
            self._db.execute("UPDATE photos SET born = ? - max(0, ? - created) WHERE born IS NULL",
                             (self.clock.now(), time.time()))

    _COLUMNS = "id, created, source, size, faces, meta, owner_key, original_kept"

    @staticmethod
    def _photo(row: tuple) -> Photo:
        photo_id, created, source, size, faces, meta, owner_key, original_kept = row
        return Photo(photo_id, created, source, size, faces, json.loads(meta), owner_key,
                     bool(original_kept))

    def get(self, photo_id: str) -> Photo | None:
        """The photo with this id; None for an unknown or malformed id."""
        if not isinstance(photo_id, str) or not ID_PATTERN.match(photo_id):
            return None
        with self._lock:
            row = self._db.execute(f"SELECT {self._COLUMNS} FROM photos WHERE id = ?",
                                   (photo_id,)).fetchone()
        return self._photo(row) if row else None

    def get_by_owner_key(self, owner_key: str) -> Photo | None:
        """The photo whose QR link carries this key (a share link opened at the venue)."""
        if not isinstance(owner_key, str) or not ID_PATTERN.match(owner_key):
            return None
        with self._lock:
            row = self._db.execute("SELECT id FROM photos WHERE owner_key = ?", (owner_key,)).fetchone()
        return self.get(row[0]) if row else None

    def list(self, limit: int = 24, offset: int = 0, source: str | None = None) -> list[Photo]:
        """Photos newest first."""
        limit, offset = max(0, int(limit)), max(0, int(offset))
        where, args = ("WHERE source = ?", (source,)) if source else ("", ())
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._COLUMNS} FROM photos {where} "
                "ORDER BY created DESC, rowid DESC LIMIT ? OFFSET ?", (*args, limit, offset)).fetchall()
        return [self._photo(r) for r in rows]

    def snapshot(self) -> builtins.list[tuple[str, float]]:
        """(id, created) of every photo now, newest first: a fixed list to work through
        (the zip export) while photos come and go."""
        with self._lock:
            return self._db.execute("SELECT id, created FROM photos "
                                    "ORDER BY created DESC, rowid DESC").fetchall()

    def count(self, source: str | None = None) -> int:
        where, args = ("WHERE source = ?", (source,)) if source else ("", ())
        with self._lock:
            return self._db.execute(f"SELECT COUNT(*) FROM photos {where}", args).fetchone()[0]

    def file_path(self, photo_id: str, kind: str) -> Path | None:
        """The file of one photo (``kind``: original, anime or thumb); None if unknown
        (or the original, once retention deleted it)."""
        photo = self.get(photo_id) if kind in KINDS else None
        if photo is None or (kind == "original" and not photo.original_kept):
            return None
        return self.root / photo_id / f"{kind}.jpg"

    def photo_files(self, photo_id: str) -> builtins.list[Path]:
        """Every file of a photo, sorted (its folder holds them all: original, results,
        variants, frames); [] if unknown."""
        if self.get(photo_id) is None:
            return []
        folder = self.root / photo_id
        return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.endswith(TMP_SUFFIX))

    def extra_path(self, photo_id: str, name: str) -> Path | None:
        """One of a photo's extra files (``strip.jpg``, ``boomerang.mp4``...); None unless
        the photo has it."""
        photo = self.get(photo_id)
        if photo is None or name not in extra_files(photo):
            return None
        return self.root / photo_id / name

    def variants(self, photo_id: str) -> builtins.list[str]:
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
    def _check_writable(self) -> None:
        if self.read_only:
            raise PermissionError(f"{self.root}: this photo store was opened read-only")

    def save(self, original_rgb: np.ndarray, stylized_rgb: np.ndarray, meta: dict,
             source: str = "booth", extras: dict[str, bytes] | None = None, *,
             keep: Callable[[], bool] | None = None) -> Photo | None:
        """Store one photo (files first, index row last); raises :class:`StoreFull`.
        ``extras``: a strip's or a boomerang's further files by name (:data:`EXTRA_PATTERN`),
        stored with it as one item.

        ``keep``, if given, is asked right before the row is committed: False (the guest
        was told it failed meanwhile) removes the files and returns None — decided
        before the commit, so nothing needs taking back later (maybe on a closed store).
        """
        self._check_writable()
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
                kept = keep is None or keep()
                if kept:
                    self._db.execute("INSERT INTO photos (id, created, source, size, faces, meta, "
                                     "owner_key, born) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                     (photo.id, photo.created, photo.source, photo.size, photo.faces,
                                      json.dumps(photo.meta, default=float), photo.owner_key,
                                      self.clock.now()))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # e.g. ENOSPC half-way: leave nothing
            raise
        if not kept:
            shutil.rmtree(folder, ignore_errors=True)
            return None
        self._tell("photo_stored", photo.id)
        return photo

    def import_photo(self, photo: Photo, files: dict[str, Path]) -> bool:
        """Keep a photo made elsewhere (a merged gallery pulls other booths' photos) with
        its own id, time and key; ``files`` maps each of :data:`KINDS` to its JPEG. Files
        first, row last, like :meth:`save`; False if the id is taken or malformed."""
        if not ID_PATTERN.match(photo.id) or self.get(photo.id) is not None or set(files) != set(KINDS):
            return False
        folder = self.root / photo.id
        shutil.rmtree(folder, ignore_errors=True)  # an earlier import cut short
        folder.mkdir()
        try:
            for kind, source in files.items():
                write_atomic(folder / f"{kind}.jpg", Path(source).read_bytes())
            fsync_dir(folder)
            with self._lock:
                self._db.execute("INSERT INTO photos (id, created, source, size, faces, meta, owner_key, "
                                 "born) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                 (photo.id, photo.created, photo.source, photo.size, photo.faces,
                                  json.dumps(photo.meta, default=float), photo.owner_key,
                                  self.clock.now() - max(0.0, time.time() - photo.created)))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self._tell("photo_stored", photo.id)
        return True

    def save_variant(self, photo_id: str, style: str, stylized_rgb: np.ndarray) -> Path:
        """Keep a re-rendering of a photo in another style: file first, row last, so it
        is complete or absent. Rendering a style again replaces the earlier variant."""
        self._check_writable()
        if not VARIANT_PATTERN.match(style):
            raise ValueError(f"style name {style!r}: lower-case letters, digits and _ only")
        if self.get(photo_id) is None:
            raise KeyError(f"no photo {photo_id!r}")
        if not self.has_room():
            raise StoreFull(f"only {self.free_mb():.0f} MB free on the booth's disk "
                            f"(the floor is {self.settings.min_free_mb} MB)")
        path = self.root / photo_id / f"variant-{style}.jpg"
        try:
            write_atomic(path, encode_jpeg(stylized_rgb, self.settings.jpeg_quality))
            fsync_dir(path.parent)
        except FileNotFoundError:  # deleted meanwhile: its folder is gone
            raise KeyError(f"no photo {photo_id!r}") from None
        with self._lock:
            # Only beside a photo that is still there (the check and the row in one step).
            added = self._db.execute(
                "INSERT OR REPLACE INTO variants (photo_id, style, created) "
                "SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM photos WHERE id = ?)",
                (photo_id, style, time.time(), photo_id)).rowcount
        if not added:
            # Deleted while the file was written: a delete leaves no file (its own
            # removal may have run before this file arrived).
            shutil.rmtree(self.root / photo_id, ignore_errors=True)
            raise KeyError(f"no photo {photo_id!r}")
        self._tell("photo_stored", photo_id)
        return path

    def delete(self, photo_id: str) -> bool:
        """Remove a photo and its folder (every file of it: original, results, variants,
        thumbnail, strip frames). The row goes first, in one transaction with its
        variants, so the photo vanishes at once and whole; True if it existed."""
        self._check_writable()
        if self.get(photo_id) is None:
            return False
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM variants WHERE photo_id = ?", (photo_id,))
                gone = self._db.execute("DELETE FROM photos WHERE id = ?", (photo_id,)).rowcount
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        if not gone:  # another thread deleted it in between
            return False
        shutil.rmtree(self.root / photo_id, ignore_errors=True)
        fsync_dir(self.root)
        self._forget_journal()
        self._tell("photo_deleted", photo_id)
        return True

    def _tell(self, change: str, photo_id: str) -> None:
        """Tell the listeners; one that fails never fails the store's write."""
        for listener in self.listeners:
            try:
                getattr(listener, change)(photo_id)
            except Exception:
                log.exception("photo store: %s listener failed for %s", change, photo_id)

    def _forget_journal(self) -> None:
        """Empty the write-ahead log, whose older page copies still hold deleted rows."""
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:  # busy: the next delete or the close empties it
                log.warning("photo index: checkpoint after a delete: %s", exc)

    def born_before(self, cutoff: float, *, with_original: bool = False) -> builtins.list[str]:
        """Ids of the photos taken before ``cutoff`` on the retention clock, oldest first
        (``with_original``: only those that still have their original)."""
        where = " AND original_kept = 1" if with_original else ""
        with self._lock:
            return [r[0] for r in self._db.execute(
                f"SELECT id FROM photos WHERE born < ?{where} ORDER BY born", (cutoff,))]

    def drop_original(self, photo_id: str) -> bool:
        """Delete a photo's original and keep its anime results: the row says so first,
        then the file goes (a power cut in between: the repair removes it). True if it did."""
        with self._lock:
            changed = self._db.execute("UPDATE photos SET original_kept = 0 WHERE id = ? AND "
                                       "original_kept = 1", (photo_id,)).rowcount
        if changed and ID_PATTERN.match(photo_id):
            (self.root / photo_id / "original.jpg").unlink(missing_ok=True)
            fsync_dir(self.root / photo_id)
            self._tell("original_dropped", photo_id)
        return bool(changed)

    def ids(self) -> builtins.list[str]:
        """Every photo's id, oldest first."""
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT id FROM photos ORDER BY created, rowid")]

    def repair(self) -> dict[str, int]:
        """Make disk and index agree after a crash; returns what was cleaned up.

        Only for the store's one writer, before it writes (see the module docstring).
        Removes temporary files, photo folders without an index row (a write
        interrupted before its commit) and rows whose original or portrait is missing;
        a missing thumbnail is made again from the portrait. Folders that are not a
        photo's (``lost+found``, an organiser's backup) are left alone.
        """
        self._check_writable()
        with self._lock:
            ids = {r[0] for r in self._db.execute("SELECT id FROM photos")}
        cleaned = {"temp_files": 0, "orphan_folders": 0, "orphan_rows": 0}
        thumbs = 0
        for entry in self.root.iterdir():
            if not entry.is_dir() or not ID_PATTERN.match(entry.name):
                continue
            if entry.name not in ids:
                shutil.rmtree(entry, ignore_errors=True)
                cleaned["orphan_folders"] += 1
                continue
            cleaned["temp_files"] += remove_leftovers(entry)
        with self._lock:
            dropped = {r[0] for r in self._db.execute("SELECT id FROM photos WHERE original_kept = 0")}
            metas = dict(self._db.execute("SELECT id, meta FROM photos").fetchall())
        for photo_id in dropped:  # deleted by retention, its file not yet gone at a power cut
            (self.root / photo_id / "original.jpg").unlink(missing_ok=True)
        for photo_id in ids:
            folder = self.root / photo_id
            needed = [f"{k}.jpg" for k in KINDS if not (k == "original" and photo_id in dropped)]
            extras = json.loads(metas.get(photo_id, "{}")).get("files", [])
            if all((folder / name).is_file() for name in needed + extras):
                continue
            if all((folder / name).is_file() for name in extras) and \
                    self._rebuild_thumb(folder, with_original=photo_id not in dropped):
                thumbs += 1
                continue
            with self._lock:
                self._db.execute("DELETE FROM photos WHERE id = ?", (photo_id,))
            shutil.rmtree(folder, ignore_errors=True)
            cleaned["orphan_rows"] += 1
        variants = self._repair_variants()
        if any(cleaned.values()):
            log.warning("photo store repaired after an interrupted write: %s", cleaned)
        if thumbs:
            log.warning("photo store: %d missing thumbnails made again from their portraits", thumbs)
        if variants:
            log.warning("photo store: %d restyled variants without their file or row removed", variants)
        return cleaned

    def _rebuild_thumb(self, folder: Path, *, with_original: bool = True) -> bool:
        """Make a photo's missing thumbnail again from its portrait; False when the
        original (unless retention took it) or the portrait is missing or unreadable too
        (the photo is lost)."""
        if with_original and not (folder / "original.jpg").is_file():
            return False
        try:
            anime = load_image(folder / "anime.jpg")
        except Exception:  # missing or truncated: nothing to rebuild from
            return False
        write_atomic(folder / "thumb.jpg",
                     encode_jpeg(thumbnail(anime, self.settings.thumb_size), self.settings.jpeg_quality))
        fsync_dir(folder)
        return True

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
        """Keep the retention clock's reading and close the index; a second call does nothing."""
        if self._closed:
            return
        self._closed = True
        if not self.read_only:
            self.clock.save()  # the next start goes on from here
        with self._lock:
            if not self.read_only:  # the writer folds the journal back in
                try:
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except sqlite3.Error:
                    pass
            self._db.close()
