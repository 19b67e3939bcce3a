"""Machine-readable views: ``/api/photos``, ``/healthz`` and ``/metrics``.

* ``/api/photos`` — the newest photos as JSON (same privacy rule as the gallery):
  the anime portraits (a strip's square and strip, a boomerang's still, MP4 and WebP,
  ``mode`` saying which); the originals and each photo's owner link only for the organiser.
* ``/healthz`` — the daemon's health as JSON; HTTP 503 while the booth cannot take
  photos, so a monitoring probe (or ``curl -f``) notices.
* ``/metrics`` — Prometheus text format: cycles, failures, ignored presses, photos,
  disk free, the press-to-result latency histogram, the live anime mirror's rate and,
  when printing is on, the prints (printed, failed, waiting, paper budget left,
  printer ok).
"""

from __future__ import annotations

import math
from typing import Sequence

from flask import Blueprint, Response, abort, jsonify

from booth import qr
from booth.web.access import is_admin
from booth.web.contract import get_booth
from booth.web.gallery import index_allowed, owner_url
from booth.web.paging import query_number

bp = Blueprint("api", __name__)


def photo_json(photo, organiser: bool = False) -> dict:
    """One photo as the API lists it: id, time, page and image URLs (for the organiser
    also the original and the owner's link, which guests' listings never carry)."""
    base = f"/p/{photo.id}"
    listed = {"id": photo.id, "created": photo.created, "source": photo.source,
              "page": base, "url": qr.photo_url(get_booth().settings, photo.id),
              "anime": f"{base}/anime.jpg", "thumb": f"{base}/thumb.jpg",
              "qr_svg": f"{base}/qr.svg", "qr_png": f"{base}/qr.png"}
    if photo.meta.get("booth"):  # a merged gallery: the booth that made it
        listed["booth"] = photo.meta["booth"]
    mode = photo.meta.get("mode", "photo")
    listed["mode"] = mode
    if mode == "strip":
        listed["strip"] = f"{base}/strip.jpg"
    elif mode == "boomerang":
        listed.update(video=f"{base}/boomerang.mp4", webp=f"{base}/boomerang.webp")
    if organiser:
        listed.update(original=f"{base}/original.jpg", owner_url=owner_url(photo))
    return listed


@bp.get("/api/photos")
def photos():
    if not index_allowed():
        abort(403, "the gallery is private: log in as the organiser")
    limit = query_number("limit", 24, 1, 100)
    offset = query_number("offset", 0, 0, 10_000_000)
    store = get_booth().store
    organiser = is_admin()
    return jsonify(photos=[photo_json(p, organiser) for p in store.list(limit=limit, offset=offset)],
                   total=store.count(), limit=limit, offset=offset)


@bp.get("/healthz")
def healthz():
    health = dict(get_booth().health())
    last = health.get("last_cycle")
    if isinstance(last, dict) and not is_admin():
        # The newest photo's id is its key; only the organiser sees it here.
        health["last_cycle"] = {k: v for k, v in last.items() if k != "photo_id"}
    response = jsonify(health)
    response.status_code = 200 if health.get("ok") else 503
    return response


def _escape_label(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def prometheus_text(stats: dict, health: dict, mirror: dict | None = None) -> str:
    """The booth's figures in the Prometheus text exposition format (version 0.0.4);
    ``mirror``: the live anime mirror's figures (:meth:`booth.vision.mirror.Mirror.stats`)."""
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: Sequence[tuple[str, float]]) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for suffix_labels, value in samples:
            lines.append(f"{name}{suffix_labels} {_number(value)}")

    metric("booth_cycles_total", "counter", "Photo cycles completed since the booth started.",
           [("", stats.get("cycles", 0))])
    metric("booth_failures_total", "counter", "Cycles that ended on the error screen.",
           [("", stats.get("failures", 0))])
    metric("booth_ignored_presses_total", "counter",
           "Button presses ignored because a cycle was running.",
           [("", stats.get("ignored_presses", 0))])
    metric("booth_uploads_total", "counter", "Photos uploaded from phones.",
           [("", stats.get("uploads", 0))])
    metric("booth_photos", "gauge", "Photos in the store.", [("", stats.get("photos", 0))])
    disk = health.get("disk") or {}
    metric("booth_disk_free_bytes", "gauge", "Free space on the photo store's disk.",
           [("", round(float(disk.get("free_mb", 0.0)) * 1024 * 1024))])
    metric("booth_up", "gauge", "1 when the booth can take photos.",
           [("", 1 if health.get("ok") else 0)])
    components = [(f'{{component="{_escape_label(name)}"}}', 1 if (health.get(name) or {}).get("ok") else 0)
                  for name in ("camera", "model", "gpio", "disk")]
    metric("booth_component_ok", "gauge", "1 when a part of the booth works.", components)

    prints = stats.get("prints")
    if prints:
        metric("booth_prints_total", "counter", "Sheets printed (CUPS reported the job done).",
               [("", prints["printed"])])
        metric("booth_print_failures_total", "counter", "Print jobs that failed.",
               [("", prints["failed"])])
        metric("booth_print_jobs_waiting", "gauge", "Print jobs queued, held or printing.",
               [("", prints["waiting"])])
        if prints.get("budget_left") is not None:
            metric("booth_print_budget_remaining", "gauge",
                   "Sheets left in the event's paper budget ([print] max_total).",
                   [("", prints["budget_left"])])
        printer = health.get("printer") or {}
        metric("booth_printer_ok", "gauge", "1 when the printer reports no problem.",
               [("", 1 if printer.get("ok") else 0)])

    sync = health.get("sync")
    if sync:
        metric("booth_sync_ok", "gauge", "1 when the last copy to the [sync] remote worked.",
               [("", 1 if sync["ok"] else 0)])
        metric("booth_sync_queued_photos", "gauge", "Photos waiting to be copied to the remote.",
               [("", sync.get("queued", 0))])
        metric("booth_sync_pending_deletions", "gauge", "Deleted photos still to remove from the remote.",
               [("", sync.get("deletions", 0))])
        metric("booth_sync_last_success_timestamp_seconds", "gauge",
               "When a copy to the remote last worked (Unix time; 0 = never).",
               [("", sync.get("last_success") or 0)])

    histogram = stats.get("press_to_result_histogram") or {"buckets": [], "count": 0, "sum_s": 0.0}
    samples = [(f'_bucket{{le="{bound:g}"}}', count) for bound, count in histogram["buckets"]]
    samples.append(('_bucket{le="+Inf"}', histogram["count"]))
    samples.append(("_sum", histogram["sum_s"]))
    samples.append(("_count", histogram["count"]))
    metric("booth_press_to_result_seconds", "histogram",
           "Time from the end of the countdown (the capture) to the result on screen, "
           "for every cycle since the booth started.", samples)
    if mirror:
        metric("booth_mirror_live", "gauge", "1 while the kiosk shows the live anime mirror.",
               [("", 1 if mirror["live"] else 0)])
        metric("booth_mirror_frames_per_second", "gauge",
               "Frames the anime mirror stylized per second (last two seconds).", [("", mirror["fps"])])
        metric("booth_mirror_frame_milliseconds", "gauge",
               "Time one mirror frame takes (resize, network, blend, JPEG), smoothed.",
               [("", mirror["ms_per_frame"])])
        metric("booth_mirror_size_pixels", "gauge",
               "Long side the mirror stylizes at now (it steps down when frames are slow).",
               [("", mirror["size"])])
        metric("booth_mirror_frames_total", "counter", "Frames the anime mirror stylized.",
               [("", mirror["frames"])])
        metric("booth_mirror_dropped_frames_total", "counter",
               "Camera preview frames the mirror skipped because it was busy.",
               [("", mirror["dropped"])])
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if value.is_integer() else repr(value)


@bp.get("/metrics")
def metrics():
    booth = get_booth()
    mirror = booth.mirror.stats() if booth.mirror is not None else None
    text = prometheus_text(booth.stats(), booth.health(), mirror)
    return Response(text, mimetype="text/plain; version=0.0.4; charset=utf-8")
