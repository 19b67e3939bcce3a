"""``booth stylize IN... --out DIR``: photos in, anime portraits out, with timings.

By default each photo goes through the booth's own pipeline (faces found, levelled and
framed, size chosen by the complexity policy); ``--no-face`` runs the bare generator on
the whole picture instead. Either way the result is upsampled to ``[storage]
result_long_side``, as the booth stores it (never beyond the photo's own resolution). A file that cannot be used (corrupt, empty, unsupported,
absurdly large) gets one line on stderr and the others still complete; the exit status
is 1 if any file failed.

``--mode strip`` makes one photo strip of 3 or 4 photos (the 2x6 in strip and the 2x2
square, as the booth stores them); ``--mode boomerang`` makes a boomerang of each photo
with the demo camera's burst (a slow push-in), as MP4, animated WebP and its middle
frame: the pictures the docs show, made by the booth's own code.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from booth import config
from booth.daemon import moments
from booth.devices.camera.folder import FolderCamera
from booth.errors import CameraError, UserError
from booth.files import write_atomic, write_json
from booth.model.graph import SIZE_MULTIPLE
from booth.vision import boomerang, images, mirror, policy, strip, upsample
from booth.vision.generator import Generator
from booth.vision.pipeline import Pipeline


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="IN", help="JPEG/PNG/WebP photos")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the results")
    parser.add_argument("--size", default="auto",
                        help="auto (the complexity policy) or a multiple of 8 in 384..512")
    parser.add_argument("--no-face", action="store_true",
                        help="bare generator on the whole picture (no face framing)")
    parser.add_argument("--styles", metavar="NAMES", default=None,
                        help='"all" or a comma-separated list of styles: one image per style '
                             "and photo, and a contact sheet (contact_sheet.jpg)")
    parser.add_argument("--mode", choices=MODES, default="photo",
                        help="photo (default); strip: one strip of the 3 or 4 photos given "
                             "(strip.jpg, strip-square.jpg); boomerang: one per photo with the "
                             "demo camera's burst (NAME_boomerang.mp4/.webp/.jpg)")
    parser.add_argument("--json", metavar="FILE", help="write per-image results as JSON")
    parser.add_argument("--config", metavar="PATH", help="config file (default: config.toml)")


MODES = ("photo", "strip", "boomerang")


def parse_size(text: str) -> int | None:
    """None for "auto", else a validated working size."""
    if text == "auto":
        return None
    if not text.isdigit() or int(text) % SIZE_MULTIPLE or not 384 <= int(text) <= 512:
        raise UserError(f"--size {text!r}: use auto or a multiple of {SIZE_MULTIPLE} in 384..512")
    return int(text)


def fit_to_size(rgb: np.ndarray, size: int) -> np.ndarray:
    """The whole picture with its long side at ``size``, both sides multiples of 8."""
    h, w = rgb.shape[:2]
    scale = size / max(h, w)

    def snap(v: float) -> int:
        return max(SIZE_MULTIPLE, int(round(v * scale / SIZE_MULTIPLE)) * SIZE_MULTIPLE)

    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(rgb, (snap(w), snap(h)), interpolation=interpolation)


class BareGenerator:
    """The generator on the whole picture, behind the pipeline's ``process`` shape."""

    def __init__(self, settings: config.Settings) -> None:
        self.settings = settings
        self.generator = Generator.from_settings(settings, warm_up=False)

    def process(self, rgb: np.ndarray, *, size: int | None = None) -> dict:
        started = time.perf_counter()
        chosen = size or policy.choose_size(rgb, self.settings.generator)
        crop = fit_to_size(rgb, chosen)
        prepared = time.perf_counter()
        anime = self.generator.stylize(crop)
        done = time.perf_counter()
        # Full resolution, as the booth stores it: the picture itself is the guide.
        h, w = upsample.result_shape(crop.shape[:2], max(crop.shape[:2]) / max(rgb.shape[:2]),
                                     self.settings.storage.result_long_side)
        if (h, w) != crop.shape[:2]:
            guide = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
            anime = upsample.upsample(anime, crop, guide)
        upscaled = time.perf_counter()
        return {"image": anime, "size": chosen, "faces": 0,
                "timings_ms": {"resize": (prepared - started) * 1000, "generator": (done - prepared) * 1000,
                               "upscale": (upscaled - done) * 1000}}


class FacePipeline:
    """The booth's own pipeline (faces, levelling, framing, policy, compose)."""

    def __init__(self, settings: config.Settings) -> None:
        self.pipeline = Pipeline.from_settings(settings)

    def process(self, rgb: np.ndarray, *, size: int | None = None, style: str | None = None) -> dict:
        result = (self.pipeline.process(rgb, size=size) if style is None
                  else self.pipeline.process(rgb, size=size, style=style))
        assert result.framing is not None  # process() always frames
        return {"image": result.stylized, "size": result.size, "faces": len(result.faces),
                "timings_ms": dict(result.timings_ms), "crop": result.crop,
                "framing": result.framing.mode, "angle_deg": round(result.framing.angle_deg, 1)}


def contact_sheet(rows: list[list[tuple[str, np.ndarray]]], cell: int = 320) -> np.ndarray:
    """A grid of labelled pictures (one row per photo), each fitted into a cell ``cell``
    wide and as tall as the row's tallest picture needs (at most cell·5/4), so a wide
    group's row is not mostly empty."""
    label_h = 28
    heights = [min(cell * 5 // 4, max(round(cell * im.shape[0] / im.shape[1]) for _, im in row))
               for row in rows]
    sheet = np.full((sum(heights) + len(rows) * label_h, max(len(r) for r in rows) * cell, 3), 24,
                    np.uint8)
    y = 0
    for row, height in zip(rows, heights):
        for c, (label, image) in enumerate(row):
            scale = min(cell / image.shape[1], height / image.shape[0])
            small = cv2.resize(image, (max(1, int(image.shape[1] * scale)), max(1, int(image.shape[0] * scale))),
                               interpolation=cv2.INTER_AREA)
            x = c * cell
            sheet[y:y + small.shape[0], x:x + small.shape[1]] = small
            cv2.putText(sheet, label, (x + 6, y + height + 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                        (235, 235, 235), 1, cv2.LINE_AA)
        y += height + label_h
    return sheet


def run_styles(args: argparse.Namespace, settings: config.Settings, size: int | None,
               out_dir: Path) -> int:
    """One image per style and photo, and a contact sheet of them all."""
    engine = FacePipeline(settings)
    styles = engine.pipeline.styles
    names = styles.available if args.styles == "all" else [n.strip() for n in args.styles.split(",")]
    for name in names:
        try:
            styles.check(name)
        except ValueError as exc:
            raise UserError(f"--styles: {exc}") from None
    rows, records, failed = [], [], 0
    for name in args.inputs:
        path = Path(name)
        try:
            rgb = images.load_image(path, max_pixels=settings.upload.max_pixels)
        except images.ImageError as exc:
            print(f"booth stylize: {exc}", file=sys.stderr)
            records.append({"file": str(path), "ok": False, "error": str(exc)})
            failed += 1
            continue
        row: list[tuple[str, np.ndarray]] = []
        for style in names:
            started = time.perf_counter()
            result = engine.process(rgb, size=size, style=style)
            if not row:
                row.append(("photo", result["crop"]))
            target = out_dir / f"{path.stem}_{style}.jpg"
            write_atomic(target, images.encode_jpeg(result["image"], settings.storage.jpeg_quality))
            row.append((styles.label(style), result["image"]))
            h, w = result["image"].shape[:2]
            records.append({"file": str(path), "ok": True, "style": style, "out": str(target),
                            "faces": result["faces"], "framing": result["framing"],
                            "angle_deg": result["angle_deg"], "size": result["size"],
                            "width": w, "height": h,
                            "ms": {**{k: round(v, 1) for k, v in result["timings_ms"].items()},
                                   "total": round((time.perf_counter() - started) * 1000, 1)}})
            print(f"{path.name} {style}: generator {result['timings_ms']['generator']:.0f} ms, "
                  f"faces {result['faces']} -> {target}", flush=True)
        rows.append(row)
    if rows:
        sheet = out_dir / "contact_sheet.jpg"
        write_atomic(sheet, images.encode_jpeg(contact_sheet(rows), 88))
        print(f"contact sheet -> {sheet}")
    if args.json:
        write_json(Path(args.json), {"results": records, "failed": failed})
    return 1 if failed else 0


def load_all(names: list[str], max_pixels: int) -> list[np.ndarray]:
    """Every photo named, or a one-line error naming the first that cannot be used."""
    try:
        return [images.load_image(Path(name), max_pixels=max_pixels) for name in names]
    except images.ImageError as exc:
        raise UserError(str(exc)) from None


def run_strip(args: argparse.Namespace, settings: config.Settings, out_dir: Path) -> int:
    """One strip of the photos given, each shot through the booth's cell pipeline."""
    if len(args.inputs) not in (3, 4):
        raise UserError(f"--mode strip takes 3 or 4 photos (a strip's shots), got {len(args.inputs)}")
    frames = load_all(args.inputs, settings.upload.max_pixels)
    maker = strip.ShotPipeline(Pipeline.from_settings(settings), len(frames))
    quality = settings.storage.jpeg_quality
    shots = [moments.make_shot(maker, frame, None, quality)[0] for frame in frames]
    item = moments.strip_item(shots, settings.styles.default, settings.theme.accent_color, quality)
    written = {"strip": out_dir / "strip.jpg", "square": out_dir / "strip-square.jpg"}
    write_atomic(written["strip"], item.extras["strip.jpg"])
    write_atomic(written["square"], images.encode_jpeg(item.anime, quality))
    for path in written.values():
        print(f"strip of {len(frames)} shots -> {path}")
    if args.json:
        write_json(Path(args.json), {"results": [{"inputs": args.inputs, "ok": True, "mode": "strip",
                                                  **{k: str(v) for k, v in written.items()}}],
                                     "failed": 0})
    return 0


def demo_burst(photo: Path) -> list[np.ndarray]:
    """The demo camera's burst of ``photo`` (its slow push-in), as ``booth run --demo``
    records a boomerang."""
    with tempfile.TemporaryDirectory(prefix="booth-burst-") as folder:
        shutil.copy(photo, folder)
        camera = FolderCamera(folder)
        frames: list[np.ndarray] = []
        try:
            camera.open()
            camera.burst(boomerang.BURST_FRAMES, boomerang.burst_fps(), frames.append)
        except CameraError as exc:
            raise UserError(str(exc)) from None
        finally:
            camera.close()
    return frames


def run_boomerangs(args: argparse.Namespace, settings: config.Settings, out_dir: Path) -> int:
    """A boomerang of each photo: the demo camera's burst through the booth's clip network."""
    if not mirror.network_available(settings.preview.style):
        raise UserError(f"a boomerang needs the {settings.preview.style} style: "
                        f"run `booth styles build {settings.preview.style}`")
    maker = boomerang.ClipMaker(mirror.mirror_network(settings, threads=0), settings.preview.smoothing)
    records = []
    for name in args.inputs:
        path = Path(name)
        load_all([name], settings.upload.max_pixels)  # a bad file is one line, before the burst
        started = time.perf_counter()
        item = moments.boomerang_item(maker.stylize(demo_burst(path)), None, settings.preview.style)
        written = {"mp4": out_dir / f"{path.stem}_boomerang.mp4",
                   "webp": out_dir / f"{path.stem}_boomerang.webp",
                   "still": out_dir / f"{path.stem}_boomerang.jpg"}
        write_atomic(written["mp4"], item.extras["boomerang.mp4"])
        write_atomic(written["webp"], item.extras["boomerang.webp"])
        write_atomic(written["still"], images.encode_jpeg(item.anime, settings.storage.jpeg_quality))
        print(f"{path.name}: boomerang of {item.meta['frames']} frames in "
              f"{time.perf_counter() - started:.1f} s -> {written['mp4']}, {written['webp'].name}, "
              f"{written['still'].name}")
        records.append({"file": name, "ok": True, "mode": "boomerang", "frames": item.meta["frames"],
                        **{k: str(v) for k, v in written.items()}})
    if args.json:
        write_json(Path(args.json), {"results": records, "failed": 0})
    return 0


def run(args: argparse.Namespace) -> int:
    settings = config.load(args.config)
    size = parse_size(args.size)
    if size in settings.generator.sizes:  # warm up only the size that will run
        settings = settings.replace("generator", size=str(size))
    out_dir = Path(args.out)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out {out_dir}: cannot create the folder ({exc.strerror})") from None
    if args.mode != "photo":
        if args.styles or args.no_face or size is not None:
            raise UserError(f"--mode {args.mode} runs as the booth does: drop --styles, --no-face and --size")
        return run_strip(args, settings, out_dir) if args.mode == "strip" else \
            run_boomerangs(args, settings, out_dir)
    if args.styles:
        if args.no_face:
            raise UserError("--styles runs the booth's own pipeline: drop --no-face")
        return run_styles(args, settings, size, out_dir)
    engine = BareGenerator(settings) if args.no_face else FacePipeline(settings)

    results, failed = [], 0
    for name in args.inputs:
        path = Path(name)
        started = time.perf_counter()
        try:
            rgb = images.load_image(path, max_pixels=settings.upload.max_pixels)
        except images.ImageError as exc:
            print(f"booth stylize: {exc}", file=sys.stderr)
            results.append({"file": str(path), "ok": False, "error": str(exc)})
            failed += 1
            continue
        decoded = time.perf_counter()
        result = engine.process(rgb, size=size)
        target = out_dir / f"{path.stem}_anime.jpg"
        write_atomic(target, images.encode_jpeg(result["image"], settings.storage.jpeg_quality))
        finished = time.perf_counter()
        timings = {"decode": (decoded - started) * 1000, **result["timings_ms"],
                   "total": (finished - started) * 1000}
        timings = {k: round(v, 1) for k, v in timings.items()}
        h, w = result["image"].shape[:2]
        stages = " ".join(f"{k} {v:.0f}" for k, v in timings.items())
        print(f"{path.name}: size {result['size']} ({w}×{h}), faces {result['faces']}, ms: {stages} -> {target}")
        results.append({"file": str(path), "ok": True, "out": str(target), "size": result["size"],
                        "width": w, "height": h, "faces": result["faces"], "ms": timings})
    if args.json:
        write_json(Path(args.json), {"results": results, "failed": failed})
    return 1 if failed else 0
