"""Photos that outlive the venue: every stored photo copied to an rclone remote.

rclone (Debian's package) does the talking — S3, WebDAV/Nextcloud, SFTP, Google
Drive, a USB disk — to a remote the organiser set up with ``rclone config``
(``[sync] remote = "NAME:path"``). The remote holds::

    <remote>/booths/<booth name>/<photo id>/original.jpg, anime.jpg, thumb.jpg,
                                            variant-<style>.jpg..., photo.json
    <remote>/share/<owner key>/index.html, anime.jpg     (with [sync] public_url)

``photo.json`` (:func:`photo_record`) is written last and lists every file with its
size and sha256: a folder without it, or whose files do not match it, is an upload
still under way, and a merged gallery (:class:`Puller`) leaves it alone. The share
folder is named by the photo's owner key (the secret of its QR link, never listed in
the gallery), so only the public share/ part of the remote needs to be readable by
the world.

:class:`SyncWorker` listens to the store (:class:`booth.daemon.store.StoreListener`):
a stored photo only wakes it (the cycle never waits), a deletion is written down in
its own SQLite file first, so it reaches the remote even after a restart. What is
still to copy is never kept in a list that could be lost: it is every photo of the
store not yet marked copied, so photos taken while the remote is away (no internet at
the venue) simply wait on the booth's disk. rclone runs niced, idle-class I/O and
under ``--bwlimit``; a full ``rclone copy`` pass every ``[sync] every_min`` (and at
start) catches up whatever a single copy missed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

from booth import threads
from booth.config import Settings
from booth.daemon.store import KINDS, ID_PATTERN, Photo, PhotoStore
from booth.errors import UserError
from booth.files import write_atomic, write_json

log = logging.getLogger(__name__)

#: The remote's folder of every booth's photos, and of the public share pages.
BOOTHS_DIR = "booths"
SHARE_DIR = "share"
RECORD_NAME = "photo.json"
SHARE_PAGE_NAME = "index.html"
#: rclone's exit codes for "the directory / file is not there": a deletion already done.
RCLONE_NOT_FOUND = (3, 4)
#: After a failed pass the worker tries again after this long, doubling up to the cap.
RETRY_FIRST_S = 2.0
RETRY_MAX_S = 60.0
#: A single rclone call gives up after this long (a stalled remote; rclone's own
#: --timeout catches an idle connection much sooner).
CALL_TIMEOUT_S = 3600.0

#: Renders a photo's static share page (the web package's, handed in by ``booth run``).
SharePage = Callable[[Photo], str]


class SyncError(Exception):
    """An rclone call failed; the message is rclone's own last line."""


def booth_name(settings: Settings) -> str:
    """``[booth] name``, else this machine's host name (as a folder name)."""
    if settings.booth.name:
        return settings.booth.name
    host = os.uname().nodename.split(".")[0]
    cleaned = "".join(c if c.isalnum() or c in "_-" else "-" for c in host).strip("-_")
    return cleaned[:32] or "booth"


def join_remote(remote: str, *parts: str) -> str:
    """``remote`` ("NAME:path", "NAME:" or a folder) with ``parts`` appended."""
    tail = "/".join(p.strip("/") for p in parts if p)
    if not tail:
        return remote
    return remote + tail if remote.endswith((":", "/")) else f"{remote}/{tail}"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def photo_record(photo: Photo, booth: str, folder: Path) -> dict:
    """The JSON record of a stored photo: who made it, when, and each file's sha256."""
    files = {p.name: {"bytes": p.stat().st_size, "sha256": sha256_of(p)}
             for p in sorted(folder.glob("*.jpg")) if not p.name.startswith(".")}
    return {"format": 1, "id": photo.id, "booth": booth, "created": photo.created,
            "source": photo.source, "size": photo.size, "faces": photo.faces, "meta": photo.meta,
            "owner_key": photo.owner_key, "files": files}


def record_matches(record: dict, folder: Path) -> bool:
    """Every file the record lists is in ``folder`` with its size and sha256."""
    files = record.get("files")
    if not isinstance(files, dict) or not all(f"{kind}.jpg" in files for kind in KINDS):
        return False
    for name, facts in files.items():
        path = folder / name
        if "/" in name or not path.is_file() or path.stat().st_size != facts.get("bytes"):
            return False
        if sha256_of(path) != facts.get("sha256"):
            return False
    return True


class Rclone:
    """Runs rclone at low priority (nice 19, idle I/O class) with the booth's limits."""

    def __init__(self, config_path: str = "", bandwidth_kib: int = 0, *, executable: str = "rclone") -> None:
        found = shutil.which(executable)
        if found is None:
            raise UserError("rclone is not installed: sudo apt install rclone (or ./install.sh with "
                            "[sync] remote set)")
        self.executable = found
        self.config_path = config_path
        self.bandwidth_kib = bandwidth_kib
        self._lock = threading.Lock()
        self._running: subprocess.Popen | None = None
        self._prefix = []
        if shutil.which("setpriv"):
            # rclone ends when the booth does, even by SIGKILL (a power-cut test, a crash).
            self._prefix += ["setpriv", "--pdeathsig", "TERM"]
        if shutil.which("nice"):
            self._prefix += ["nice", "-n", "19"]
        if shutil.which("ionice"):
            self._prefix += ["ionice", "-c", "3"]

    def command(self, *args: str) -> list[str]:
        common = ["--contimeout", "10s", "--timeout", "30s", "--retries", "1",
                  "--low-level-retries", "2", "--stats", "0"]
        if self.bandwidth_kib:
            common += ["--bwlimit", f"{self.bandwidth_kib}K"]
        if self.config_path:
            common += ["--config", self.config_path]
        return [*self._prefix, self.executable, *args, *common]

    def run(self, *args: str, timeout: float = CALL_TIMEOUT_S, ok_codes: tuple[int, ...] = ()) -> str:
        """rclone ``args``; its output. Raises :class:`SyncError` with rclone's last line."""
        with self._lock:
            self._running = subprocess.Popen(self.command(*args), stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE, text=True)
            process = self._running
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise SyncError(f"rclone {args[0]} took longer than {timeout:.0f} s") from None
        finally:
            with self._lock:
                self._running = None
        if process.returncode != 0 and process.returncode not in ok_codes:
            lines = [line for line in err.splitlines() if line.strip()]
            raise SyncError(_plain(lines[-1] if lines else f"rclone {args[0]} failed "
                                   f"(exit status {process.returncode})"))
        return out

    def stop(self) -> None:
        """End the running call (the worker is stopping)."""
        with self._lock:
            if self._running is not None and self._running.poll() is None:
                self._running.terminate()


def rclone_for(settings: Settings) -> Rclone:
    """rclone with ``[sync] rclone_config`` (relative to the config file's folder) and the
    bandwidth cap."""
    config_path = settings.sync.rclone_config
    if config_path:
        config_path = str((settings.base_dir / Path(config_path).expanduser()).resolve())
    return Rclone(config_path, settings.sync.bandwidth_kib)


#: What rclone's errors mean, for the organiser: words in its message -> plain words.
UNKNOWN_REMOTE = "rclone has no remote of that name (set it up with rclone config)"
PLAIN_REASONS = (
    (("didn't find section in config file",), UNKNOWN_REMOTE),
    (("connection refused", "no such host", "i/o timeout", "network is unreachable", "no route to host",
      "connection reset", "TLS handshake timeout", "dial tcp"), "the remote does not answer (no internet?)"),
    (("no space left", "insufficient storage", "quota", "507"), "the remote is full"),
    (("401", "403", "permission denied", "access denied", "unauthorized", "forbidden"),
     "the remote refuses the booth (check the remote's password or key)"),
)


def _plain(line: str) -> str:
    """rclone's error line without its timestamp and level, after its meaning in plain
    words where it is a known one."""
    for marker in ("ERROR : ", "Failed to ", "CRITICAL: ", "NOTICE: "):
        if marker in line:
            line = line[line.index(marker):].removeprefix("ERROR : ")
            break
    line = line.strip()
    lowered = line.lower()
    for words, meaning in PLAIN_REASONS:
        if any(word.lower() in lowered for word in words):
            return f"{meaning}: {line}"
    return line


def _ago(when: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(when)) if when else "never"


_STATE_SCHEMA = """
CREATE TABLE IF NOT EXISTS copied (id TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS deletions (id TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS originals (id TEXT PRIMARY KEY, removed INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS status (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class SyncState:
    """What has reached the remote and what is still to delete there, on disk
    (``<data_dir>/sync/state.sqlite3``) so it survives a restart."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(folder / "state.sqlite3", check_same_thread=False,
                                   isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a deletion noted survives a power cut
        self._db.executescript(_STATE_SCHEMA)

    def _all(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _do(self, sql: str, args: tuple = ()) -> None:
        with self._lock:
            self._db.execute(sql, args)

    def copied(self) -> set[str]:
        return {r[0] for r in self._all("SELECT id FROM copied")}

    def copied_count(self) -> int:
        return self._all("SELECT COUNT(*) FROM copied")[0][0]

    def mark_copied(self, ids: list[str]) -> None:
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO copied (id, at) VALUES (?, ?)",
                                 [(i, now) for i in ids])
            self._db.execute("COMMIT")

    def forget(self, photo_id: str) -> None:
        """The photo changed (a new variant): copy it again."""
        self._do("DELETE FROM copied WHERE id = ?", (photo_id,))

    def add_deletion(self, photo_id: str) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute("INSERT OR REPLACE INTO deletions (id, at) VALUES (?, ?)", (photo_id, time.time()))
            self._db.execute("DELETE FROM copied WHERE id = ?", (photo_id,))
            self._db.execute("COMMIT")

    def deletions(self) -> list[str]:
        return [r[0] for r in self._all("SELECT id FROM deletions ORDER BY at")]

    def add_dropped_original(self, photo_id: str) -> None:
        """The photo's original is gone here: remove it there, and send the record again."""
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute("INSERT OR REPLACE INTO originals (id, removed) VALUES (?, 0)", (photo_id,))
            self._db.execute("DELETE FROM copied WHERE id = ?", (photo_id,))
            self._db.execute("COMMIT")

    def dropped_originals(self) -> list[str]:
        """Photos whose original is still to remove from the remote."""
        return [r[0] for r in self._all("SELECT id FROM originals WHERE removed = 0")]

    def known_dropped_originals(self) -> set[str]:
        return {r[0] for r in self._all("SELECT id FROM originals")}

    def dropped_original_done(self, photo_id: str) -> None:
        self._do("UPDATE originals SET removed = 1 WHERE id = ?", (photo_id,))

    def deletion_done(self, photo_id: str) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM deletions WHERE id = ?", (photo_id,))
            self._db.execute("DELETE FROM originals WHERE id = ?", (photo_id,))
            # A push that raced the deletion may have marked it copied after all.
            self._db.execute("DELETE FROM copied WHERE id = ?", (photo_id,))
            self._db.execute("COMMIT")

    def set_status(self, **values: str | float | None) -> None:
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO status (key, value) VALUES (?, ?)",
                                 [(k, json.dumps(v)) for k, v in values.items()])

    def status(self) -> dict:
        return {k: json.loads(v) for k, v in self._all("SELECT key, value FROM status")}

    def close(self) -> None:
        with self._lock:
            self._db.close()


class SyncWorker:
    """Copies the store's photos to the remote on its own low-priority thread; a
    :class:`booth.daemon.store.StoreListener`."""

    def __init__(self, store: PhotoStore, remote: str, booth: str, rclone: Rclone, state_dir: Path, *,
                 every_s: float = 600.0, public_url: str = "", share_page: SharePage | None = None,
                 retry_max_s: float = RETRY_MAX_S) -> None:
        self.store = store
        self.remote = remote
        self.booth = booth
        self.rclone = rclone
        self.every_s = every_s
        self.public_url = public_url
        self.share_page = share_page if public_url else None
        self.retry_max_s = retry_max_s
        self.state = SyncState(state_dir)
        #: Records and share pages as they go to the remote (mirrors its layout).
        self.outbox = state_dir / "outbox"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._busy = False

    @classmethod
    def from_settings(cls, settings: Settings, store: PhotoStore, share_page: SharePage | None = None,
                      **options) -> "SyncWorker":
        sync = settings.sync
        return cls(store, sync.remote, booth_name(settings), rclone_for(settings),
                   settings.data_dir / "sync", every_s=sync.every_min * 60.0,
                   public_url=sync.public_url, share_page=share_page, **options)

    # --- the store's listener: take note, return at once -------------------------------
    def photo_stored(self, photo_id: str) -> None:
        self.state.forget(photo_id)  # a new variant: the folder goes again (a new photo: a no-op)
        self._wake.set()

    def photo_deleted(self, photo_id: str) -> None:
        self.state.add_deletion(photo_id)
        self._wake.set()

    def original_dropped(self, photo_id: str) -> None:
        self.state.add_dropped_original(photo_id)
        self._wake.set()

    # --- running ------------------------------------------------------------------
    def start(self) -> "SyncWorker":
        self._thread = threads.start_daemon(self._run, "booth-sync")
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self.rclone.stop()
        if self._thread is not None:
            self._thread.join(timeout)
        self.state.close()

    def _run(self) -> None:
        # Linux gives each thread its own nice value: this thread's hashing and records
        # yield to the cycle like the rclone processes it starts.
        threads.yield_cpu(19)
        next_full = 0.0  # a full pass first: whatever the last run left behind
        retry_s = RETRY_FIRST_S
        while not self._stop.is_set():
            self._wake.clear()
            full = time.monotonic() >= next_full
            try:
                self.run_pass(full)
            except Exception as exc:  # the remote away, full, refusing: try again later
                if self._stop.is_set():
                    break
                self._failed(exc, retry_s)
                self._stop.wait(retry_s)
                retry_s = min(retry_s * 2, self.retry_max_s)
                continue
            if full:
                next_full = time.monotonic() + self.every_s
            self.state.set_status(last_success=time.time(), last_error=None)
            retry_s = RETRY_FIRST_S
            self._wake.wait(max(0.0, next_full - time.monotonic()))

    def run_pass(self, full: bool) -> None:
        """Copy what waits (every photo on a full pass), then apply the deletions."""
        self._busy = True
        try:
            if full:
                self.note_missed_deletions()
            self.push(self._store_ids() if full else self.pending())
            self.remove_dropped_originals()
            self.apply_deletions()
        finally:
            self._busy = False

    def _failed(self, exc: Exception, retry_s: float) -> None:
        if not isinstance(exc, SyncError):
            log.exception("sync to %s failed", self.remote)
        reason = str(exc) if isinstance(exc, SyncError) else "unexpected error (see the log)"
        log.warning("sync to %s: %s (trying again in %.0f s)", self.remote, reason, retry_s)
        self.state.set_status(last_error=reason, last_error_at=time.time())

    def _store_ids(self) -> list[str]:
        return [p.id for p in self.store.list(limit=10**9)]

    def note_missed_deletions(self) -> None:
        """Photos copied once but gone from the store while nobody listened (retention
        runs as the store opens, before the worker starts): delete them there too; the
        same for originals dropped meanwhile."""
        photos = self.store.list(limit=10**9)
        for photo_id in self.state.copied() - {p.id for p in photos}:
            self.state.add_deletion(photo_id)
        known = self.state.known_dropped_originals()
        for photo in photos:
            if not photo.original_kept and photo.id not in known:
                self.state.add_dropped_original(photo.id)

    def pending(self) -> list[str]:
        """Photos of the store not yet on the remote, oldest last."""
        copied = self.state.copied()
        return [i for i in self._store_ids() if i not in copied]

    # --- copying ------------------------------------------------------------------
    def _record_dir(self, photo_id: str) -> Path:
        return self.outbox / BOOTHS_DIR / self.booth / photo_id

    def _prepare(self, photo: Photo) -> list[str]:
        """Write the photo's record (and share page) to the outbox; their paths in it."""
        folder = self.store.root / photo.id
        record = photo_record(photo, self.booth, folder)
        record_dir = self._record_dir(photo.id)
        write_json(record_dir / RECORD_NAME, record)
        paths = [f"{BOOTHS_DIR}/{self.booth}/{photo.id}/{RECORD_NAME}"]
        if self.share_page is not None and photo.owner_key:
            share = self.outbox / SHARE_DIR / photo.owner_key
            share.mkdir(parents=True, exist_ok=True)
            anime = share / "anime.jpg"
            if not anime.exists():
                try:
                    os.link(folder / "anime.jpg", anime)  # no second copy on the booth's disk
                except OSError:
                    shutil.copyfile(folder / "anime.jpg", anime)
            write_atomic(share / SHARE_PAGE_NAME, self.share_page(photo))
            paths = [f"{SHARE_DIR}/{photo.owner_key}/anime.jpg",
                     f"{SHARE_DIR}/{photo.owner_key}/{SHARE_PAGE_NAME}"] + paths
        return paths

    def push(self, ids: list[str]) -> int:
        """Copy these photos (files, then records and share pages) to the remote; how many."""
        photos = [p for p in (self.store.get(i) for i in ids) if p is not None]
        if not photos:
            return 0
        files, outbox_files = [], []
        for photo in photos:
            names = sorted(p.name for p in (self.store.root / photo.id).glob("*.jpg")
                           if not p.name.startswith("."))
            files += [f"{photo.id}/{name}" for name in names]
            outbox_files += self._prepare(photo)
        # Records after the files: a record on the remote means its files are complete there.
        try:
            self._copy(self.store.root, join_remote(self.remote, BOOTHS_DIR, self.booth), files)
        except SyncError:
            kept = [p.id for p in photos if self.store.get(p.id) is not None]
            if len(kept) == len(photos):
                raise
            return self.push(kept)  # a photo deleted meanwhile: its files are gone, not missing
        self._copy(self.outbox, self.remote, outbox_files)
        gone = [p.id for p in photos if self.store.get(p.id) is None]
        self.state.mark_copied([p.id for p in photos if p.id not in gone])
        log.info("sync: %d photos copied to %s", len(photos), self.remote)
        return len(photos)

    def _copy(self, source: Path, destination: str, files: list[str]) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", prefix="booth-sync-") as listing:
            listing.write("\n".join(files) + "\n")
            listing.flush()
            self.rclone.run("copy", str(source), destination, "--files-from-raw", listing.name,
                            "--no-traverse", "--transfers", "2")

    # --- deleting -----------------------------------------------------------------
    def apply_deletions(self) -> int:
        """Remove deleted photos (and their share pages) from the remote; how many."""
        done = 0
        for photo_id in self.state.deletions():
            if self.store.get(photo_id) is not None:  # deleted, then imported again
                self.state.deletion_done(photo_id)
                continue
            record_dir = self._record_dir(photo_id)
            owner_key = ""
            try:
                owner_key = json.loads((record_dir / RECORD_NAME).read_text()).get("owner_key", "")
            except (OSError, ValueError):
                pass
            if owner_key:
                self._remove("purge", join_remote(self.remote, SHARE_DIR, owner_key))
                shutil.rmtree(self.outbox / SHARE_DIR / owner_key, ignore_errors=True)
            self._remove("purge", join_remote(self.remote, BOOTHS_DIR, self.booth, photo_id))
            shutil.rmtree(record_dir, ignore_errors=True)
            self.state.deletion_done(photo_id)
            done += 1
        if done:
            log.info("sync: %d deleted photos removed from %s", done, self.remote)
        return done

    def remove_dropped_originals(self) -> int:
        """Remove from the remote the originals retention dropped here (their records,
        without the original, went in the push before); how many."""
        done = 0
        copied = self.state.copied()
        for photo_id in self.state.dropped_originals():
            if self.store.get(photo_id) is None:  # deleted meanwhile: its folder goes whole
                self.state.dropped_original_done(photo_id)
            elif photo_id in copied:  # its record without the original went first
                self._remove("deletefile", join_remote(self.remote, BOOTHS_DIR, self.booth, photo_id,
                                                       "original.jpg"))
                self.state.dropped_original_done(photo_id)
                done += 1
        if done:
            log.info("sync: %d originals past retention removed from %s", done, self.remote)
        return done

    def _remove(self, command: str, path: str) -> None:
        """``rclone purge`` a folder or ``deletefile`` a file; one that is not there is
        already done (some backends say so with an exit code, WebDAV only in words)."""
        try:
            self.rclone.run(command, path, ok_codes=RCLONE_NOT_FOUND)
        except SyncError:
            if self.rclone.run("lsf", path, ok_codes=RCLONE_NOT_FOUND).strip():
                raise

    # --- what the admin page, /healthz, /metrics and `booth doctor` say -----------
    def status(self) -> dict:
        # Counts, not lists: the booth asks for its health every second. Every copied
        # photo is in the store (a deletion takes it out of both).
        queued = max(0, self.store.count() - self.state.copied_count())
        return sync_status(self.remote, queued, len(self.state.deletions()), self.state.status(),
                           busy=self._busy)


def sync_status(remote: str, queued: int, deletions: int, saved: dict, busy: bool = False) -> dict:
    """The sync's health in plain words: what waits, when the last copy worked, the last error."""
    last_success, last_error = saved.get("last_success"), saved.get("last_error")
    waiting = f"{queued} photo{'s' if queued != 1 else ''}"
    if deletions:
        waiting += f" and {deletions} deletion{'s' if deletions != 1 else ''}"
    if last_error:
        message = (f"{waiting} waiting for {remote}: the last try failed at "
                   f"{_ago(saved.get('last_error_at'))} ({last_error}); last success {_ago(last_success)}")
    elif queued or deletions:
        message = f"{waiting} waiting for {remote}" + (" (copying now)" if busy else "")
    elif last_success:
        message = f"every photo is on {remote} (last copy {_ago(last_success)})"
    else:
        message = f"not copied to {remote} yet"
    return {"ok": not last_error, "remote": remote, "queued": queued, "deletions": deletions,
            "last_success": last_success, "last_error": last_error, "message": message}


def saved_status(remote: str, data_dir: Path) -> dict:
    """The sync's status read from the data dir (``booth doctor``, no booth running);
    both files are opened read-only, so nothing is changed or repaired."""
    def read(path: Path, sql: str) -> list[tuple]:
        if not path.is_file():
            return []
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return db.execute(sql).fetchall()
        except sqlite3.Error:
            return []
        finally:
            db.close()

    state = data_dir / "sync" / "state.sqlite3"
    stored = {r[0] for r in read(data_dir / "photos" / "index.sqlite3", "SELECT id FROM photos")}
    copied = {r[0] for r in read(state, "SELECT id FROM copied")}
    deletions = len(read(state, "SELECT id FROM deletions"))
    saved = {k: json.loads(v) for k, v in read(state, "SELECT key, value FROM status")}
    return sync_status(remote, len(stored - copied), deletions, saved)


class Puller:
    """Fills a merged gallery's store from the remote: every booth's complete photos in,
    photos deleted from the remote out (``booth gallery``)."""

    def __init__(self, store: PhotoStore, remote: str, rclone: Rclone, mirror_dir: Path) -> None:
        self.store = store
        self.remote = remote
        self.rclone = rclone
        self.mirror = mirror_dir
        self.mirror.mkdir(parents=True, exist_ok=True)
        self.last_success: float | None = None
        self.last_error: str | None = None

    def pull(self) -> dict[str, int]:
        """One pass: mirror the remote's booths/ folder, import what is complete."""
        self.rclone.run("sync", join_remote(self.remote, BOOTHS_DIR), str(self.mirror),
                        "--transfers", "4", "--checkers", "8")
        added = removed = 0
        on_remote = set()
        for record_path in sorted(self.mirror.glob(f"*/*/{RECORD_NAME}")):
            photo_id = record_path.parent.name
            if not ID_PATTERN.match(photo_id):
                continue
            on_remote.add(photo_id)
            if self.store.get(photo_id) is not None:
                continue
            if self._import(record_path):
                added += 1
        for photo in self.store.list(limit=10**9):
            if photo.id not in on_remote:
                self.store.delete(photo.id)
                removed += 1
        self.last_success, self.last_error = time.time(), None
        return {"added": added, "removed": removed, "photos": self.store.count()}

    def _import(self, record_path: Path) -> bool:
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        folder = record_path.parent
        if record.get("id") != folder.name or not record_matches(record, folder):
            return False  # still arriving: the next pass takes it
        meta = dict(record.get("meta") or {})
        meta["booth"] = str(record.get("booth") or folder.parent.name)
        photo = Photo(id=record["id"], created=float(record["created"]), source=str(record.get("source", "booth")),
                      size=int(record.get("size", 0)), faces=int(record.get("faces", 0)), meta=meta,
                      owner_key=str(record.get("owner_key", "")))
        return self.store.import_photo(photo, {kind: folder / f"{kind}.jpg" for kind in KINDS})

    def status(self) -> dict:
        ok = self.last_error is None
        message = (f"{self.store.count()} photos from {self.remote} (last pull {_ago(self.last_success)})"
                   if ok else f"cannot pull from {self.remote}: {self.last_error}")
        return {"ok": ok, "remote": self.remote, "last_success": self.last_success,
                "last_error": self.last_error, "message": message}
