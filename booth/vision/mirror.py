"""The live anime mirror: the kiosk's preview, stylized while the guest waits.

While the booth is idle and during the countdown, :class:`Mirror` takes the camera's
latest preview frame, runs it through a small, fast anime network at a low
resolution (``[preview] size``, long side) and keeps the result as a JPEG for
``/preview.jpg``; the browser scales it up smoothly. It never competes with a guest's
photo: it stops a little more than one frame before the countdown ends and stays
stopped while the booth makes or processes a photo (``may_run``); for an upload, which
no countdown announces, the frame already running is the only one that can overlap.

It adapts: when frames take longer than ``1 / max_fps`` it steps down to a smaller
size; at the smallest size it runs at the rate it reaches. Below
:data:`booth.config.MIRROR_MIN_FPS` it is not a mirror any more, and the kiosk shows
the plain camera preview. A still scene must not shimmer: each output frame is
blended with the previous one (``[preview] smoothing``).

The model part is one function, :func:`mirror_network`: the style's IR as
``booth styles build`` made it (:mod:`booth.model.style_build`: fetched and sha256-checked,
quantized to INT8 on booth crops where that is faster and faithful), with uint8 NHWC
pixels in and out, compiled once per frame size.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import openvino as ov

from booth.config import MIRROR_MIN_FPS
from booth.model import weights
from booth.vision import styles
from booth.vision.generator import add_pixel_conversions, check_input, cpu_config
from booth.vision.images import encode_jpeg

log = logging.getLogger(__name__)

#: The network needs height and width in multiples of this.
SIZE_MULTIPLE = 16
#: Long sides the mirror steps down through when frames are too slow.
SIZE_STEPS = (480, 416, 384, 320, 288, 256, 224, 192, 160)
#: A stylized frame older than this is not shown (the mirror stalled or paused).
STALE_S = 1.5
#: Frames averaged (exponentially) for the ms/frame that drives the adaptation.
EWMA_FRAMES = 8
#: Seconds after a step down before the mirror tries a larger size again.
STEP_UP_AFTER_S = 20.0
#: Frames at a new size that do not count: the first ones compile and tune it.
WARM_FRAMES = 2
#: JPEG quality of the mirror frames (small frames: the browser scales them up).
JPEG_QUALITY = 85


def frame_shape(long_side: int, aspect: float) -> tuple[int, int]:
    """(height, width) of a frame of ``aspect`` (w / h) whose long side is ``long_side``,
    both rounded to multiples of :data:`SIZE_MULTIPLE`."""
    def snap(v: float) -> int:
        return max(SIZE_MULTIPLE, int(round(v / SIZE_MULTIPLE)) * SIZE_MULTIPLE)
    if aspect >= 1.0:
        return snap(long_side / aspect), snap(long_side)
    return snap(long_side), snap(long_side * aspect)


# --- the network ------------------------------------------------------------------------
def network_available(style: str) -> bool:
    """The style's mirror IR is built (``booth styles build`` ran for it)."""
    card = styles.read_card(style)
    return card is not None and styles.ir_path(style, card.get("runs", "int8")).is_file()


def network_ir(style: str) -> Path:
    """The IR the mirror runs: the style's own build (``booth styles build``, which the
    install runs), in the precision that build measured as faster and faithful."""
    if not network_available(style):
        raise weights.WeightsError(f"the mirror's style {style} is not built: "
                                   f"run `booth styles build {style}`")
    card = styles.read_card(style)
    assert card is not None  # built: network_available() read it
    return styles.ir_path(style, card["runs"])


class MirrorNetwork:
    """A fast style network: ``stylize(rgb uint8 H×W×3) -> rgb uint8 H×W×3``, H and W
    multiples of 16. One compiled model per frame shape (static shapes run faster than
    a dynamic one on the CPU plugin); not thread-safe — the mirror has one thread."""

    def __init__(self, ir: Path, *, threads: int = 1, cache_dir: Path | None = None) -> None:
        self.ir = ir
        self.precision = "int8" if ir.stem.endswith("int8") else "fp32"
        self.threads = threads
        self._core = ov.Core()
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            self._core.set_property({"CACHE_DIR": str(cache_dir)})
        self._model = add_pixel_conversions(self._core.read_model(str(ir)))
        self._requests: dict[tuple[int, int], ov.InferRequest] = {}

    def _request(self, h: int, w: int) -> ov.InferRequest:
        request = self._requests.get((h, w))
        if request is None:
            model = self._model.clone()
            model.reshape({0: [1, h, w, 3]})
            compiled = self._core.compile_model(model, "CPU", cpu_config(threads=self.threads))
            request = self._requests[(h, w)] = compiled.create_infer_request()
        return request

    def stylize(self, rgb: np.ndarray) -> np.ndarray:
        check_input(rgb, SIZE_MULTIPLE)
        request = self._request(*rgb.shape[:2])
        request.infer({0: np.ascontiguousarray(rgb[None])})
        return request.get_output_tensor(0).data[0].copy()


def mirror_network(settings, threads: int | None = None) -> MirrorNetwork:
    """The network ``[preview] style`` names, compiled for ``[preview] threads`` (or
    ``threads``). The one place the mirror's model comes from."""
    return MirrorNetwork(network_ir(settings.preview.style),
                         threads=settings.preview.threads if threads is None else threads,
                         cache_dir=settings.data_dir / "ov-cache")


def centre_crop(rgb: np.ndarray, aspect: float) -> np.ndarray:
    """The middle of a frame at ``aspect`` (w / h): frames of another shape (a demo
    folder of photos) reuse the compiled shapes instead of stalling to compile new ones."""
    h, w = rgb.shape[:2]
    if w / h > aspect * 1.01:
        keep = max(1, round(h * aspect))
        return rgb[:, (w - keep) // 2:(w - keep) // 2 + keep]
    if w / h < aspect / 1.01:
        keep = max(1, round(w / aspect))
        return rgb[(h - keep) // 2:(h - keep) // 2 + keep]
    return rgb


# --- temporal smoothing ------------------------------------------------------------------
def blend(previous: np.ndarray | None, current: np.ndarray, smoothing: float) -> np.ndarray:
    """Exponential blend over time: ``smoothing`` is the previous frame's weight."""
    if previous is None or smoothing <= 0 or previous.shape != current.shape:
        return current
    return cv2.addWeighted(previous, smoothing, current, 1.0 - smoothing, 0.0)


def frame_change(frames: list[np.ndarray]) -> float:
    """Mean absolute change between consecutive frames (grey levels, 0..255)."""
    diffs = [float(np.mean(cv2.absdiff(a, b))) for a, b in zip(frames, frames[1:])]
    return float(np.mean(diffs)) if diffs else 0.0


# --- the live loop -----------------------------------------------------------------------
class Mirror:
    """Stylizes the camera preview on its own thread while ``may_run()`` is true.

    ``frames()`` gives the camera's frames: a callable ``(after_seq, timeout) ->
    (seq, rgb) | None`` that waits for a frame newer than ``after_seq``.
    ``network_factory`` makes the network on the mirror's thread (building it the
    first time can take a minute; the plain preview shows meanwhile).
    """

    def __init__(self, settings_preview, *, frames: Callable, may_run: Callable[[], bool],
                 network_factory: Callable[[], MirrorNetwork],
                 on_mode: Callable[[str], None] | None = None, aspect: float = 4 / 3) -> None:
        self.settings = settings_preview
        self.aspect = aspect  # the camera preview's width / height
        self.enabled = settings_preview.anime
        self._frames = frames
        self._may_run = may_run
        self._network_factory = network_factory
        self._on_mode = on_mode
        self.network: MirrorNetwork | None = None
        self.message = "starting" if self.enabled else "off"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._jpeg: bytes | None = None
        self._jpeg_time = 0.0
        self._previous: np.ndarray | None = None
        self._mode = "plain"
        self._size_index = self._nearest_step(settings_preview.size)
        self._ms_ewma: float | None = None
        self._frames_at_size = 0
        self._stepped_down = 0.0
        self.last_ms = 0.0
        self._recent: list[float] = []  # start times of the last frames, for frames/s
        # Counters for /metrics.
        self.frames = 0
        self.dropped = 0

    @staticmethod
    def _nearest_step(size: int) -> int:
        return min(range(len(SIZE_STEPS)), key=lambda i: abs(SIZE_STEPS[i] - size))

    # --- what the web app reads -------------------------------------------------------
    @property
    def size(self) -> int:
        return SIZE_STEPS[self._size_index]

    @property
    def fps(self) -> float:
        recent = [t for t in self._recent if t >= time.monotonic() - 2.0]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(1e-6, recent[-1] - recent[0])

    @property
    def ms_per_frame(self) -> float:
        return self._ms_ewma or self.last_ms

    @property
    def paused(self) -> bool:
        """True while the booth makes or processes a photo (or the kiosk shows no preview)."""
        return not self._may_run()

    @property
    def live(self) -> bool:
        """True while the stylized preview is what the kiosk should show."""
        return (self.enabled and self._jpeg is not None
                and time.monotonic() - self._jpeg_time <= STALE_S
                and (self.fps >= MIRROR_MIN_FPS or len(self._recent) < 3))

    def jpeg(self) -> bytes | None:
        """The latest stylized frame while :attr:`live`, else None (show the plain one)."""
        return self._jpeg if self.live else None

    def stats(self) -> dict:
        return {"enabled": self.enabled, "live": self.live, "fps": round(self.fps, 2),
                "ms_per_frame": round(self.ms_per_frame, 1), "size": self.size,
                "frames": self.frames, "dropped": self.dropped, "message": self.message}

    def set_enabled(self, on: bool) -> None:
        """Turn the stylized preview on or off while the booth runs."""
        self.enabled = on
        self._previous = None
        self._publish_mode()

    # --- the loop ----------------------------------------------------------------------
    def start(self) -> "Mirror":
        self._thread = threading.Thread(target=self._loop, name="anime-mirror", daemon=True)
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        """The mirror's thread is still alive."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop and wait for the thread: while it loads, it is inside OpenVINO, and the
        interpreter's shutdown must not tear OpenVINO down under it (that aborts the
        process); it stops between two compiled sizes, a second or so at most."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _publish_mode(self) -> None:
        mode = "anime" if self.live else "plain"
        if mode != self._mode:
            self._mode = mode
            if self._on_mode is not None:
                self._on_mode(mode)

    def _load(self) -> bool:
        try:
            self.network = self._network_factory()
        except Exception as exc:  # missing weights, a CPU that rejects the graph: plain preview
            self.message = f"not available: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            log.error("mirror: %s", self.message)
            return False
        # Compile every size it may step down to now, for the camera's real frames:
        # compiling one later stalls the mirror for about a second, right when it is
        # already too slow.
        first = self._frames(-1, 10.0)
        if first is not None:
            self.aspect = first[1].shape[1] / first[1].shape[0]
        for size in SIZE_STEPS[self._size_index:]:
            if self._stop.is_set():  # a booth stopping does not wait for every size
                return False
            h, w = frame_shape(size, self.aspect)
            self.network.stylize(np.zeros((h, w, 3), np.uint8))
        self.message = f"{self.settings.style} network ready ({self.network.precision})"
        log.info("mirror: %s", self.message)
        return True

    def _loop(self) -> None:
        if not self._load():
            return
        seq = -1
        next_due = 0.0
        while not self._stop.is_set():
            if not self.enabled or self.paused:
                self._previous = None
                self._recent = []  # the rate starts afresh when it resumes
                seq = -1  # the camera frames missed while paused are not dropped ones
                self._publish_mode()
                self._stop.wait(0.02)
                continue
            wait = next_due - time.monotonic()
            if wait > 0:
                self._stop.wait(wait)
                continue
            got = self._frames(seq, 0.1)
            if got is None:
                self._publish_mode()
                continue
            new_seq, frame = got
            if seq >= 0 and new_seq > seq + 1:
                self.dropped += new_seq - seq - 1
            seq = new_seq
            if self.paused:  # a photo started while we waited for the frame
                continue
            started = time.monotonic()
            self.step(frame)
            next_due = started + 1.0 / self.settings.max_fps
            self._publish_mode()

    def step(self, frame: np.ndarray) -> np.ndarray:
        """Stylize one camera frame (RGB, already mirrored), keep it as the latest JPEG,
        and adapt the size to the time it took. Returns the frame shown."""
        started = time.monotonic()
        h, w = frame_shape(self.size, self.aspect)
        small = cv2.resize(centre_crop(frame, w / h), (w, h), interpolation=cv2.INTER_AREA)
        assert self.network is not None, "frames are stylized once the network is loaded"
        anime = blend(self._previous, self.network.stylize(small), self.settings.smoothing)
        self._previous = anime
        self._jpeg = encode_jpeg(anime, JPEG_QUALITY)
        self._jpeg_time = time.monotonic()
        ms = (self._jpeg_time - started) * 1e3
        self.frames += 1
        self.last_ms = ms
        self._recent = [t for t in self._recent[-30:] if t >= started - 2.0] + [started]
        self._frames_at_size += 1
        if self._frames_at_size > WARM_FRAMES:  # the first frames of a shape compile and tune it
            self._ms_ewma = ms if self._ms_ewma is None else \
                self._ms_ewma + (ms - self._ms_ewma) * 2 / (EWMA_FRAMES + 1)
            self._adapt()
        return anime

    def _adapt(self) -> None:
        """Step down a size when frames take longer than 1 / max_fps; step back up
        (never above ``size``) when the larger frames would still fit with room."""
        if self._ms_ewma is None or self._frames_at_size < WARM_FRAMES + EWMA_FRAMES:
            return
        budget_ms = 1000.0 / self.settings.max_fps
        configured = self._nearest_step(self.settings.size)
        if self._ms_ewma > budget_ms and self._size_index < len(SIZE_STEPS) - 1:
            self._size_index += 1
            self._stepped_down = time.monotonic()
        elif self._size_index > configured:
            # Up only with room to spare, and not soon after a step down: on a busy
            # machine frame times swing, and a size that keeps changing looks worse.
            grow = (SIZE_STEPS[self._size_index - 1] / self.size) ** 2
            if (self._ms_ewma * grow > 0.65 * budget_ms
                    or time.monotonic() - self._stepped_down < STEP_UP_AFTER_S):
                return
            self._size_index -= 1
        else:
            return
        log.info("mirror: now %d px long side (%.0f ms per frame; budget %.0f ms)",
                 self.size, self._ms_ewma, budget_ms)
        self._ms_ewma = None
        self._frames_at_size = 0
        self._previous = None


# --- measuring it ------------------------------------------------------------------------
def static_sequence(rgb: np.ndarray, count: int = 24, noise: float = 2.0, seed: int = 0,
                    shape: tuple[int, int] = (480, 640)) -> list[np.ndarray]:
    """A still scene as a camera sees it: one photo cropped to ``shape`` (h, w), repeated
    with independent sensor-like noise (Gaussian, ``noise`` grey levels) on each frame."""
    h, w = shape
    scale = max(h / rgb.shape[0], w / rgb.shape[1])
    big = cv2.resize(rgb, (max(w, round(rgb.shape[1] * scale)), max(h, round(rgb.shape[0] * scale))),
                     interpolation=cv2.INTER_AREA)
    top, left = (big.shape[0] - h) // 2, (big.shape[1] - w) // 2
    still = big[top:top + h, left:left + w].astype(np.float32)
    rng = np.random.default_rng(seed)
    return [np.clip(still + rng.normal(0, noise, still.shape), 0, 255).astype(np.uint8)
            for _ in range(count)]


def flicker(network: MirrorNetwork, frames: list[np.ndarray], long_side: int,
            smoothing: float) -> dict[str, float]:
    """Frame-to-frame change of the camera frames and of the mirror's output (both at the
    mirror's size, grey levels), and their ratio: how much the mirror shimmers."""
    h, w = frame_shape(long_side, frames[0].shape[1] / frames[0].shape[0])
    inputs = [cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames]
    outputs, previous = [], None
    for small in inputs:
        previous = blend(previous, network.stylize(small), smoothing)
        outputs.append(previous)
    settled = len(outputs) // 4  # the blend's first frames converge from the first one
    change_in, change_out = frame_change(inputs[settled:]), frame_change(outputs[settled:])
    return {"input_change": round(change_in, 3), "output_change": round(change_out, 3),
            "ratio": round(change_out / max(change_in, 1e-9), 2)}
