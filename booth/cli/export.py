"""``booth export --out FILE.zip [--wipe]``: every photo into one archive, checked, and
with ``--wipe`` the event ends: the photos are deleted once the archive is proven.

The archive holds each photo's folder as it is (original, anime portrait, thumbnail,
style variants, strip frames) under ``<date>-<id>/``, and ``manifest.json`` with each
file's SHA-256. It is written to a temporary name, synced and renamed, then **read
back whole**: every entry's bytes (zip's CRC) and SHA-256 must match what was read from
the store. Only then, with ``--wipe``, is a plan written in the data folder
(``export-plan.json``: the archive, its own SHA-256 and the photos in it), and
the photos in the plan are deleted one by one (the row first, like every delete).

Interrupted anywhere, the next run finishes the job: without a plan nothing was
deleted and the export starts again; with one, the archive is checked against the
plan's SHA-256 (missing or changed: nothing more is deleted, and the command says so)
and the wipe goes on. Photos taken after the export started are not in it, and stay.
Run it with the booth stopped (``sudo systemctl stop booth``): it refuses while a booth
holds the data folder.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
import zipfile
from pathlib import Path

from booth import config
from booth.daemon.events import EventBus
from booth.daemon.store import PhotoStore
from booth.devices.printing import PrintService
from booth.errors import UserError
from booth.files import TMP_SUFFIX, DataLock, fsync_dir, write_json

#: Bytes read at a time, from the store and from the archive.
CHUNK = 1024 * 1024
PLAN_NAME = "export-plan.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="FILE.zip", help="the archive to write")
    parser.add_argument("--wipe", action="store_true",
                        help="after the archive is written and read back whole, delete every photo in it")
    parser.add_argument("--config", metavar="PATH", help="config file (default: config.toml)")
    parser.add_argument("--data-dir", metavar="DIR", help="photos (default: [booth] data_dir)")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_archive(store: PhotoStore, out: Path) -> dict:
    """Every photo's files into ``out`` (atomically); the manifest written into it."""
    manifest: dict = {"photos": {}, "files": {}}
    tmp = out.with_name(f".{out.name}{TMP_SUFFIX}")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
            for photo_id in store.ids():
                photo = store.get(photo_id)
                files = store.photo_files(photo_id)
                if photo is None or not files:  # deleted meanwhile
                    continue
                stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(photo.created))
                manifest["photos"][photo_id] = {"created": photo.created, "source": photo.source,
                                                "folder": f"{stamp}-{photo_id}"}
                for path in files:
                    name = f"{stamp}-{photo_id}/{path.name}"
                    digest = hashlib.sha256()
                    info = zipfile.ZipInfo(name, time.localtime(photo.created)[:6])
                    with open(path, "rb") as source, archive.open(info, "w") as entry:
                        while chunk := source.read(CHUNK):
                            digest.update(chunk)
                            entry.write(chunk)
                    manifest["files"][name] = digest.hexdigest()
            archive.writestr("manifest.json", json.dumps(manifest, indent=1))
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, out)
        fsync_dir(out.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return manifest


def verify_archive(out: Path, manifest: dict) -> None:
    """Read every entry of ``out`` back; UserError unless each matches ``manifest``."""
    try:
        with zipfile.ZipFile(out) as archive:
            names = set(archive.namelist()) - {"manifest.json"}
            if names != set(manifest["files"]):
                raise UserError(f"{out}: the archive does not hold every file it should")
            for name, expected in manifest["files"].items():
                digest = hashlib.sha256()
                with archive.open(name) as entry:  # zipfile checks each entry's CRC at its end
                    while chunk := entry.read(CHUNK):
                        digest.update(chunk)
                if digest.hexdigest() != expected:
                    raise UserError(f"{out}: {name} reads back different from the photo")
    except (zipfile.BadZipFile, OSError) as exc:
        raise UserError(f"{out}: cannot read the archive back ({exc})") from None


def wipe(store: PhotoStore, ids: list[str], settings: config.Settings) -> int:
    """Delete the photos ``ids`` (row first, then the folder), then their print jobs."""
    deleted = sum(bool(store.delete(photo_id)) for photo_id in ids)
    if settings.print.enabled:  # their queued prints and pages go too
        PrintService(settings, store, EventBus()).forget_deleted_photos()
    return deleted


def run(args: argparse.Namespace) -> int:
    settings = config.load(args.config)
    if args.data_dir:
        os.environ["BOOTH_DATA_DIR"] = str(Path(args.data_dir).expanduser().resolve())
    out = Path(args.out).expanduser().resolve()
    if out.suffix.lower() != ".zip":
        raise UserError(f"--out {args.out}: the archive's name must end in .zip")
    root = settings.data_dir / "photos"
    if not (root / "index.sqlite3").is_file():
        raise UserError(f"no photo store in {root} (pass --data-dir or --config)")
    out.parent.mkdir(parents=True, exist_ok=True)
    with DataLock(settings.data_dir):
        for stale in settings.data_dir.glob(f".{PLAN_NAME}.*{TMP_SUFFIX}"):  # a plan cut short
            stale.unlink()
        store = PhotoStore(root, settings.storage)
        try:
            return _export(store, out, settings.data_dir / PLAN_NAME, settings, args.wipe)
        finally:
            store.close()


def _export(store: PhotoStore, out: Path, plan_path: Path, settings: config.Settings, wipe_after: bool) -> int:
    plan = json.loads(plan_path.read_text()) if plan_path.is_file() else None
    if plan is not None:
        # A wipe was interrupted: its archive was verified; finish it, never re-export.
        if Path(plan["archive"]) != out:
            raise UserError(f"an earlier export to {plan['archive']} was verified but its wipe did "
                            f"not finish: run again with --out {plan['archive']} --wipe")
        if not out.is_file() or file_sha256(out) != plan["sha256"]:
            raise UserError(f"{out} is missing or changed since it was verified: nothing more is "
                            f"deleted; move it back, or remove {plan_path} to export again")
        print(f"{out}: finishing the wipe of an earlier verified export")
    else:
        manifest = write_archive(store, out)
        verify_archive(out, manifest)
        ids = list(manifest["photos"])
        print(f"{out}: {len(ids)} photos, {len(manifest['files'])} files, every one read back "
              f"and checked ({out.stat().st_size / 1e6:.1f} MB)")
        if not wipe_after:
            return 0
        plan = {"archive": str(out), "sha256": file_sha256(out), "ids": ids}
        write_json(plan_path, plan)
        fsync_dir(plan_path.parent)
    deleted = wipe(store, plan["ids"], settings)
    plan_path.unlink()
    fsync_dir(plan_path.parent)
    left = store.count()
    print(f"wiped: {deleted} photos deleted" + (f"; {left} taken after the export started are kept"
                                                 if left else "; the booth is empty"))
    return 0
