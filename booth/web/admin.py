"""The organiser's page: statistics, the QR base URL, deleting photos, a zip of all.

Logging in takes ``[web] admin_password`` (five wrong tries per minute per address,
thirty for everybody together, then HTTP 429) and starts a session kept on the
server, which logging out ends. On the Pi itself (loopback, under the booth's own
host name) no login is needed; with an empty password that is the only way in.
"""

from __future__ import annotations

import statistics
import time
import zipfile
from typing import BinaryIO, Iterator, cast

from flask import (Blueprint, Response, abort, flash, get_flashed_messages, redirect,
                   render_template, request, url_for)

from booth import qr
from booth.daemon.store import extra_files
from booth.web.access import check_password, csrf_ok, is_admin, log_in, log_out
from booth.web.contract import get_booth
from booth.web.paging import requested_page

bp = Blueprint("admin", __name__, url_prefix="/admin")

PAGE_SIZE = 48
#: Bytes read from a photo file per zip chunk sent to the browser.
ZIP_CHUNK = 256 * 1024


def _safe_next(target: str | None) -> str:
    """Only our own pages are valid targets after logging in (no open redirect)."""
    return target if target in ("/kiosk", "/", "/admin") else "/admin"


def _require_admin() -> None:
    if not is_admin():
        abort(403, "This is the organiser's page: log in first.")


def _require_csrf() -> None:
    if not csrf_ok():
        abort(400, "This form has expired; reload the page and try again.")


@bp.route("/login", methods=["GET", "POST"])
def login():
    settings = get_booth().settings
    next_page = _safe_next(request.values.get("next"))
    if is_admin():
        return redirect(next_page)
    if not settings.web.admin_password:
        return render_template("login.html", disabled=True, next_page=next_page), 403
    if request.method == "GET":
        return render_template("login.html", next_page=next_page)
    if not check_password(request.form.get("password")):  # 429 after too many wrong ones
        return render_template("login.html", next_page=next_page, error="Wrong password."), 403
    log_in()
    return redirect(next_page)


@bp.post("/logout")
def logout():
    log_out()
    return redirect(url_for("gallery.index"))


def _summary(stats: dict) -> dict:
    latencies = [float(x) for x in stats.get("press_to_result_ms", []) or []]
    return {
        "photos": stats.get("photos", 0), "cycles": stats.get("cycles", 0),
        "failures": stats.get("failures", 0), "ignored_presses": stats.get("ignored_presses", 0),
        "uploads": stats.get("uploads", 0),
        "median_s": statistics.median(latencies) / 1000.0 if latencies else None,
        "samples": len(latencies),
    }


@bp.get("")
@bp.get("/")
def index():
    if not is_admin():
        return redirect(url_for("admin.login", next="/admin"))
    booth = get_booth()
    listing = requested_page(booth.store, PAGE_SIZE)
    # Photo counts come from the store, so they survive restarts; the cycle figures
    # (failures, ignored presses, timings) are the running booth's own.
    store_counts = {"booth": booth.store.count("booth"), "upload": booth.store.count("upload")}
    return render_template(
        "admin.html", stats=_summary(booth.stats()), health=booth.health(), store_counts=store_counts,
        base_url=qr.base_url(booth.settings), base_url_detected=qr.base_url_is_detected(booth.settings),
        photos=listing.photos, page=listing.number, pages=listing.pages, total=listing.total,
        free_gb=booth.store.free_mb() / 1024, messages=get_flashed_messages())


@bp.get("/delete/<photo_id:photo_id>")
def confirm_delete(photo_id: str):
    """Deleting is for good: one more look at the photo and a second, explicit press."""
    _require_admin()
    photo = get_booth().store.get(photo_id)
    if photo is None:
        abort(404, "There is no photo with this id.")
    return render_template("admin_delete.html", photo=photo)


@bp.post("/delete/<photo_id:photo_id>")
def delete(photo_id: str):
    _require_admin()
    _require_csrf()
    if not get_booth().delete_photo(photo_id, "organiser"):
        abort(404, "There is no photo with this id.")
    flash("Photo deleted.")
    return redirect(url_for("admin.index"))


class _ChunkBuffer:
    """A write-only file for zipfile that hands its bytes over as chunks."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._written = 0

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._written += len(data)
        return len(data)

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        pass

    def take(self) -> list[bytes]:
        """The bytes written since the last call, as one chunk (none when empty)."""
        data = b"".join(self._parts)
        self._parts.clear()
        return [data] if data else []


def zip_chunks(store) -> Iterator[bytes]:
    """Every photo (anime and original; a strip's strip and shots, a boomerang's clips)
    as one zip, produced piece by piece.

    The photos are those of the moment the download starts (a fixed list of ids, so
    photos deleted or added meanwhile move no other photo out of it or into it twice).
    Both files of a photo are opened before either is written: one deleted meanwhile is
    in the zip whole (an open file stays readable) or not at all.

    JPEGs are already compressed, so they are stored as they are: the zip costs no
    CPU the generator needs, and memory stays at one chunk whatever the count.
    """
    buffer = _ChunkBuffer()
    names: set[str] = set()
    with zipfile.ZipFile(cast(BinaryIO, buffer), "w", compression=zipfile.ZIP_STORED) as archive:
        for photo_id, created in store.snapshot():
            photo = store.get(photo_id)
            files = _open_photo_files(store, photo) if photo is not None else None
            if files is None:  # deleted since the list was taken
                continue
            stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(created))
            short = f"{stamp}-{photo_id[:8]}"
            base = short if short not in names else f"{stamp}-{photo_id}"
            names.add(base)
            try:
                for name, source in files.items():
                    info = zipfile.ZipInfo(f"{base}-{name}", time.localtime(created)[:6])
                    with archive.open(info, "w") as entry:
                        while chunk := source.read(ZIP_CHUNK):
                            entry.write(chunk)
                            yield from buffer.take()
                    yield from buffer.take()
            finally:  # the download may end at any chunk
                for source in files.values():
                    source.close()
    yield from buffer.take()


def _open_photo_files(store, photo) -> dict | None:
    """The photo's files by name, all open: its anime portrait, its original while it is
    kept, a strip's or a boomerang's own files; None if it is gone."""
    wanted = [("anime.jpg", store.file_path(photo.id, "anime"))]
    if photo.original_kept:
        wanted.append(("original.jpg", store.file_path(photo.id, "original")))
    wanted += [(name, store.extra_path(photo.id, name)) for name in extra_files(photo)]
    files = {}
    try:
        for name, path in wanted:
            if path is None:
                raise FileNotFoundError(photo.id)
            files[name] = open(path, "rb")
    except FileNotFoundError:
        for source in files.values():
            source.close()
        return None
    return files


@bp.get("/photos.zip")
def download_all():
    _require_admin()
    name = time.strftime("anime-booth-%Y%m%d.zip")
    response = Response(zip_chunks(get_booth().store), mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
