"""The AnimeGANv2 generator at run time: load once, compile for the CPU, stylize.

>>> gen = Generator.from_settings(settings)     # loads, compiles (cached), warms up
>>> anime = gen.stylize(rgb)                     # H×W×3 uint8 in, H×W×3 uint8 out

The IR comes from ``booth weights build``; no PyTorch at run time. The pixel
conversions (uint8 → [-1, 1] and tanh → uint8) are compiled into the model with
OpenVINO's pre/post-processing so they run inside the same optimized graph. The same
code runs on x86-64 and on a Pi's ARM cores: the precision is a plain setting
(``int8`` runs the quantized IR; ``f16``/``f32`` run the float IR with that inference
precision), so an organiser can measure and choose on the board.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Iterable

import numpy as np
import openvino as ov
from openvino import opset13
from openvino.preprocess import PrePostProcessor

from booth.model import weights
from booth.model.graph import SIZE_MULTIPLE
from booth.model.weights import ir_path

log = logging.getLogger(__name__)

#: Which built IR each precision runs, and the CPU plugin's inference precision hint.
PRECISIONS = {"int8": ("int8", None), "f16": ("fp32", "f16"), "f32": ("fp32", "f32")}


def working_shape(size: int, aspect: float) -> tuple[int, int]:
    """(height, width) for a crop whose long side is ``size`` at ``aspect`` (w / h)."""
    def snap(v: float) -> int:
        return max(SIZE_MULTIPLE, int(round(v / SIZE_MULTIPLE)) * SIZE_MULTIPLE)
    if aspect <= 1.0:
        return size, snap(size * aspect)
    return snap(size / aspect), size


def cpu_config(hint: str | None = None, threads: int = 0) -> dict[str, object]:
    """The CPU plugin settings every generator compile uses: the LATENCY hint, an
    optional inference precision ("f16", "f32") and thread count (0 = all cores)."""
    config: dict[str, object] = {"PERFORMANCE_HINT": "LATENCY"}
    if hint:
        config["INFERENCE_PRECISION_HINT"] = hint
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    return config


def check_input(rgb: np.ndarray, multiple: int) -> None:
    """ValueError unless ``rgb`` is what a generator network takes: an H×W×3 uint8
    image, H and W multiples of ``multiple``."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an H×W×3 uint8 image, got {rgb.dtype} {rgb.shape}")
    h, w = rgb.shape[:2]
    if h % multiple or w % multiple:
        raise ValueError(f"height and width must be multiples of {multiple}, got {h}×{w}")


def add_pixel_conversions(model: ov.Model) -> ov.Model:
    """uint8 RGB NHWC in and out; scaling and rounding happen inside the compiled graph."""
    ppp = PrePostProcessor(model)
    ppp.input().tensor().set_element_type(ov.Type.u8)
    ppp.input().preprocess().convert_element_type(ov.Type.f32).mean(127.5).scale(127.5)

    def to_uint8(output: ov.Output) -> ov.Node:
        pixels = opset13.add(opset13.multiply(output, np.float32(127.5)), np.float32(127.5))
        pixels = opset13.clamp(opset13.round(pixels, "half_to_even"), 0.0, 255.0)
        return opset13.convert(pixels, "u8").output(0)  # an Output: OpenVINO 2026 rejects a Node here

    ppp.output().postprocess().custom(to_uint8)
    return ppp.build()


def resolve_precision(setting: str) -> tuple[str, str]:
    """The precision to run for a ``[generator] precision`` setting, and why: "auto"
    takes the build's measured choice from the model card."""
    if setting != "auto":
        return setting, f'set in the config ([generator] precision = "{setting}")'

    try:
        choice = json.loads((weights.WEIGHTS_DIR / weights.MODEL_CARD).read_text())["precision"]
        chosen, why = choice["chosen"], choice["why"]
    except (OSError, ValueError, KeyError, TypeError):
        return "int8", ("auto, but the model card holds no measured choice (run `booth weights "
                        "build`): int8")
    if chosen not in PRECISIONS:
        return "int8", f"auto, but the model card's choice {chosen!r} is unknown: int8"
    return chosen, f"auto: {why}"


def runtime_layers(runtime_model: ov.Model) -> list[dict[str, str]]:
    """Every node of a compiled model's runtime graph (:attr:`Generator.runtime_model`)
    with what the CPU plugin decided: its ``name``, ``layerType`` ("Convolution", "MVN"),
    ``runtimePrecision`` ("u8", "bf16"), ``primitiveType``, ``outputPrecisions`` and the
    IR layers it absorbed (``originalLayersNames``, comma-separated)."""
    keys = ("layerType", "runtimePrecision", "primitiveType", "outputPrecisions", "originalLayersNames")
    layers = []
    for op in runtime_model.get_ordered_ops():
        info = op.get_rt_info()
        layers.append({"name": op.get_friendly_name(),
                       **{k: info[k].astype(str) if k in info else "" for k in keys}})
    return layers


class Generator:
    """One compiled generator; ``stylize`` is safe to call from several threads."""

    def __init__(self, model_path: Path | None = None, *, precision: str = "int8",
                 cache_dir: Path | None = None, threads: int = 0) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}")
        variant, hint = PRECISIONS[precision]
        self.model_path = Path(model_path) if model_path else ir_path(variant)
        self.precision = precision
        #: Why this precision runs (the config, or the build's measured "auto" choice).
        self.precision_why = "asked for by the caller"
        config = cpu_config(hint, threads)
        core = ov.Core()
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            core.set_property({"CACHE_DIR": str(cache_dir)})
        model = add_pixel_conversions(core.read_model(str(self.model_path)))
        self._compiled = core.compile_model(model, "CPU", config)
        self._local = threading.local()
        self.warm_shapes: list[tuple[int, int]] = []
        #: Why this generator runs another precision than configured (None: it does not).
        self.fallback: str | None = None

    @classmethod
    def from_settings(cls, settings, *, warm_up: bool = True) -> "Generator":
        """Build from :class:`booth.config.Settings` (cache in the data dir), warmed up.

        If the INT8 graph cannot be compiled or run on this CPU (an OpenVINO CPU
        plugin that rejects one of its layers, a damaged IR), the booth falls back to
        the float graph at f32 rather than taking no photos; ``fallback`` says why
        (shown by the daemon's status, ``/healthz`` and the log).
        """
        shapes = [working_shape(s, settings.face.aspect) for s in settings.generator.running_sizes]

        def build(precision: str) -> "Generator":
            gen = cls(precision=precision, cache_dir=settings.data_dir / "ov-cache",
                      threads=settings.generator.threads)
            if warm_up:
                gen.warm_up(shapes)
            return gen

        precision, why = resolve_precision(settings.generator.precision)
        if precision != "int8":
            gen = build(precision)
            gen.precision_why = why
            return gen
        try:
            gen = build(precision)
            gen.precision_why = why
            return gen
        except RuntimeError as exc:
            error = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            log.error("generator: the int8 graph failed on this CPU (%s); running the float "
                      "graph at f32 instead — set [generator] precision to silence this", error)
            gen = build("f32")
            gen.fallback = f"int8 failed on this CPU ({error}); running f32"
            gen.precision_why = gen.fallback
            return gen

    def _request(self) -> ov.InferRequest:
        # One infer request per thread: requests are not thread-safe, the model is.
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self._compiled.create_infer_request()
        return request

    def warm_up(self, shapes: Iterable[tuple[int, int]]) -> float:
        """Run each (height, width) once so the first guest does not pay for it."""
        started = time.perf_counter()
        for h, w in shapes:
            self.stylize(np.full((h, w, 3), 127, np.uint8))
            self.warm_shapes.append((h, w))
        return time.perf_counter() - started

    def stylize(self, rgb: np.ndarray) -> np.ndarray:
        """Anime version of an H×W×3 uint8 RGB image; H and W multiples of 8."""
        check_input(rgb, SIZE_MULTIPLE)
        request = self._request()
        request.infer({0: np.ascontiguousarray(rgb[None])})
        return request.get_output_tensor(0).data[0].copy()

    @property
    def inference_precision(self) -> str:
        """The precision the CPU plugin really runs the float parts in (e.g. "bf16" on
        AVX-512 BF16 x86, "f16" on a Pi 5's A76, "f32" on a Pi 4's A72)."""
        return self._compiled.get_property("INFERENCE_PRECISION_HINT").to_string()

    @property
    def runtime_model(self) -> ov.Model:
        """The compiled (runtime) graph: what the CPU plugin fused and chose per layer."""
        return self._compiled.get_runtime_model()

