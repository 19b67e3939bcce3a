"""Styles the guest can choose: the catalogue, their files, and a cache of compiled ones.

Each style is data: a ``[styles.NAME]`` table in ``weights/manifest.toml`` (model file,
URL, sha256, license, input format, a guest label) plus the IR ``booth styles build``
makes from it (:mod:`booth.model.style_build`). The classic AnimeGANv2 Hayao generator
(``[files.generator]``, built by ``booth weights build``) is the style ``hayao``.

At run time :class:`StyleSet` hands out a warmed generator per style. Compiled styles
cost memory, so at most ``[styles] max_loaded`` stay compiled; the least recently used
one is dropped first, and the default style is never dropped.

>>> styles = StyleSet.from_settings(settings)
>>> styles.generator("cute").stylize(rgb)        # compiled on first use, then cached
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import tomllib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from booth.config import check, from_table
from booth.errors import ConfigError
from booth.model import weights
from booth.vision.generator import Generator, working_shape
from booth.words import N_

log = logging.getLogger(__name__)

#: The classic generator's style name and guest label.
CLASSIC = "hayao"
CLASSIC_LABEL = N_("Classic Hayao")
#: Where built style IR and model cards live, inside the weights folder.
STYLES_SUBDIR = "styles"
#: The styles' INT8 ranges, committed with the project (derived statistics, no photos):
#: one file per style, the format of ``weights/int8_ranges.json`` (booth.model.quantize).
RANGES_DIR = weights.RANGES_PATH.parent / "style_ranges"


@dataclass(frozen=True)
class Style:
    """One style's manifest entry (see weights/manifest.toml)."""

    name: str
    label: str
    role: str                 # "scene" (whole photos) or "face" (portrait crops)
    file: str = ""
    sha256: str = ""
    url: str = ""
    what: str = ""
    provenance: str = ""
    license: str = ""
    layout: str = "NHWC"
    dtype: str = "float32"
    value_range: tuple[float, float] = (-1.0, 1.0)
    size_multiple: int = 8
    fixed_size: int = 0       # the one size the network takes (0: any multiple)
    #: A face style's treatment of faces: each face is stylized on its own square crop
    #: of ``face_side`` (``face_side_group`` when the photo has several faces), the face
    #: box ``face_fill`` (``face_fill_group``) of the crop's width, eyes level;
    #: ``companion`` (a scene style) renders the rest of the picture, and the faces are
    #: blended into it.
    companion: str = ""
    face_side: int = 0
    face_side_group: int = 0
    face_fill: float = 0.45
    face_fill_group: float = 0.45

    def validate(self) -> None:
        """What the booth can run (the generator's own format): checked once, when the
        manifest is read (:func:`booth.config.from_table`)."""
        check(self.role in ("scene", "face"), 'role must be "scene" or "face"')
        check(self.layout == "NHWC", 'layout must be "NHWC" (the only one supported)')
        check(self.dtype in ("float32", "float16"), 'dtype must be "float32" or "float16"')
        check(self.value_range == (-1.0, 1.0), "value_range must be [-1.0, 1.0]")
        check(self.size_multiple > 0 and self.size_multiple % 8 == 0,
              "size_multiple must be a multiple of 8")
        if self.role == "face":
            check(bool(self.companion), 'companion must name a scene style (a face style\'s '
                  'faces are blended into it)')
            for key, side in (("face_side", self.face_side), ("face_side_group", self.face_side_group)):
                check(side >= 128 and side % self.size_multiple == 0,
                      f"{key} must be at least 128 and a multiple of size_multiple")
            for key, fill in (("face_fill", self.face_fill), ("face_fill_group", self.face_fill_group)):
                check(0.2 <= fill <= 0.8, f"{key} must be in 0.2..0.8")

    def face_crop_for(self, faces: int) -> tuple[int, float]:
        """(side, fill) of each face's own crop in a photo with this many faces."""
        return (self.face_side, self.face_fill) if faces <= 1 else \
            (self.face_side_group, self.face_fill_group)

    @property
    def classic(self) -> bool:
        return self.name == CLASSIC

    def model_file(self) -> weights.ModelFile:
        """The source file as a manifest entry (fetched and verified like the others)."""
        return weights.ModelFile(key=self.name, file=self.file, sha256=self.sha256, url=self.url,
                                 what=self.what, provenance=self.provenance, license=self.license)


def catalogue(path: Path | None = None) -> dict[str, Style]:
    """Every style the manifest knows, the classic generator first."""
    path = path or weights.MANIFEST_PATH
    text = path.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    generator = data["files"]["generator"]
    styles = {CLASSIC: Style(name=CLASSIC, label=CLASSIC_LABEL, role="scene",
                             file=generator["file"], sha256=generator["sha256"],
                             url=generator["url"], what=generator["what"],
                             provenance=generator["provenance"], license=generator["license"])}
    for name, entry in data.get("styles", {}).items():
        try:
            styles[name] = from_table(Style, entry, section=f"styles.{name}", where=str(path),
                                      text=text, name=name)
        except ConfigError as exc:
            raise weights.WeightsError(str(exc)) from None
    for style in styles.values():
        if style.role == "face" and (style.companion not in styles
                                     or styles[style.companion].role != "scene"):
            raise weights.WeightsError(f"{path}: [styles.{style.name}] companion "
                                       f"{style.companion!r} must be a scene style "
                                       f"(known: {', '.join(n for n, s in styles.items() if s.role == 'scene')})")
    return styles


def style_dir() -> Path:
    return weights.WEIGHTS_DIR / STYLES_SUBDIR  # looked up at call time (tests re-point it)


def ir_path(name: str, variant: str) -> Path:
    """A built style IR: variant "int8" or "fp32"."""
    return style_dir() / f"{name}_{variant}.xml"


def card_path(name: str) -> Path:
    return style_dir() / f"{name}_card.json"


def sample_path(name: str) -> Path:
    """A small picture of the style (the kiosk shows it beside the style's label)."""
    return style_dir() / f"{name}_sample.jpg"


def ranges_path(name: str) -> Path:
    """A style's shipped INT8 ranges (``booth styles calibrate`` writes it)."""
    return RANGES_DIR / f"{name}.json"  # looked up at call time (tests re-point it)


def read_card(name: str) -> dict | None:
    """A style's model card, or None when the style is not built."""
    try:
        return json.loads(card_path(name).read_text())
    except (OSError, ValueError):
        return None


def is_built(name: str) -> bool:
    """True when the style can run: its card and the IR it chose exist."""
    if name == CLASSIC:
        return (weights.WEIGHTS_DIR / weights.GENERATOR_IR["int8"]).is_file()
    card = read_card(name)
    return card is not None and ir_path(name, card.get("runs", "int8")).is_file()


def fetch(names: list[str] | None = None, mirror: str | os.PathLike | None = None,
          report: Callable[[str], None] = print) -> None:
    """Fetch and verify the styles' files (mirror: its styles/ subfolder, like the manifest path)."""
    mirror = mirror or os.environ.get(weights.MIRROR_ENV) or None
    mirror_path = Path(mirror).expanduser().resolve() if mirror else None
    if mirror_path is not None and not mirror_path.is_dir():
        raise weights.WeightsError(f"mirror folder {mirror_path} does not exist")
    wanted = catalogue()
    for name in names or [n for n in wanted if n != CLASSIC]:
        if name not in wanted or name == CLASSIC:
            raise weights.WeightsError(f"unknown style {name!r} (known: {', '.join(n for n in wanted if n != CLASSIC)})")
        entry = wanted[name].model_file()
        entry.path.parent.mkdir(parents=True, exist_ok=True)
        how = weights.fetch_one(entry, mirror_path)
        report(f"{entry.file}: {how} (sha256 ok)")


def fit_fixed(rgb: np.ndarray, side: int) -> np.ndarray:
    """A crop fitted into a fixed-size network's side×side input: scaled so its long
    side is ``side`` (shape kept), the short side reflect-padded (crop it back with
    :func:`unfit_fixed`)."""
    h, w = rgb.shape[:2]
    scale = side / max(h, w)
    if scale != 1.0:
        rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))),
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    sh, sw = rgb.shape[:2]
    return cv2.copyMakeBorder(rgb, 0, side - sh, 0, side - sw, cv2.BORDER_REFLECT_101)


def unfit_fixed(out: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The part of a fixed-size network's output that :func:`fit_fixed` filled, at ``shape``."""
    h, w = shape
    side = out.shape[0]
    scale = side / max(h, w)
    sh, sw = max(1, round(h * scale)), max(1, round(w * scale))
    part = out[:sh, :sw]
    if (sh, sw) == (h, w):
        return np.ascontiguousarray(part)
    return cv2.resize(part, (w, h), interpolation=cv2.INTER_AREA if scale > 1 else cv2.INTER_CUBIC)


def pad_to(rgb: np.ndarray, multiple: int) -> np.ndarray:
    """Reflect-pad the bottom and right edges up to multiples of ``multiple``."""
    h, w = rgb.shape[:2]
    ph, pw = -h % multiple, -w % multiple
    if not ph and not pw:
        return rgb
    return np.pad(rgb, ((0, ph), (0, pw), (0, 0)), mode="reflect")


class StyleGenerator:
    """A style's compiled generator behind the classic generator's ``stylize``/``warm_up``;
    pads each crop to the style's size multiple (or fits it into its one size)."""

    def __init__(self, style: Style, generator) -> None:
        self.style = style
        self.generator = generator
        self.precision = generator.precision
        self.fallback = generator.fallback
        self.precision_why = generator.precision_why

    def stylize(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        if self.style.fixed_size:
            out = self.generator.stylize(fit_fixed(rgb, self.style.fixed_size))
            return unfit_fixed(out, (h, w))
        return self.generator.stylize(pad_to(rgb, self.style.size_multiple))[:h, :w].copy()

    def warm_up(self, shapes) -> float:
        started = time.perf_counter()
        for h, w in shapes:
            self.stylize(np.full((h, w, 3), 127, np.uint8))
        return time.perf_counter() - started


def load_style(style: Style, settings, *, warm_up: bool = True) -> StyleGenerator:
    """Compile one built style in the precision its model card chose, warmed up for the
    booth's working sizes."""
    shapes = [working_shape(s, settings.face.aspect) for s in settings.generator.running_sizes]
    if style.role == "face":  # the network runs on each face's own square crop
        shapes = [(side, side) for side in sorted({style.face_side, style.face_side_group})]
    if style.classic:
        return StyleGenerator(style, Generator.from_settings(settings, warm_up=warm_up))
    card = read_card(style.name)
    if card is None or not ir_path(style.name, card.get("runs", "int8")).is_file():
        raise weights.WeightsError(f"style {style.name} is not built: run `booth styles build {style.name}`")
    variant = card["runs"]
    generator = Generator(ir_path(style.name, variant), precision="int8" if variant == "int8" else "f32",
                          cache_dir=settings.data_dir / "ov-cache", threads=settings.generator.threads)
    loaded = StyleGenerator(style, generator)
    if warm_up:
        loaded.warm_up(shapes)
    return loaded


class StyleSet:
    """The enabled, built styles and a bounded cache of compiled ones.

    ``generator(name)`` compiles a style on first use; beyond ``max_loaded`` compiled
    styles the least recently used one (never the default) is dropped.
    """

    def __init__(self, settings, available: list[str], catalogue_: dict[str, Style],
                 loader: Callable[[Style], StyleGenerator] | None = None) -> None:
        self.settings = settings
        self.default = settings.styles.default
        self.max_loaded = settings.styles.max_loaded
        self.available = available
        self.catalogue = catalogue_
        self._load = loader or (lambda style: load_style(style, settings))
        self._loaded: OrderedDict[str, StyleGenerator] = OrderedDict()
        self._lock = threading.Lock()
        #: Seconds each style took to compile and warm up when it was last loaded.
        self.load_s: dict[str, float] = {}

    @classmethod
    def from_settings(cls, settings, *, loader=None, catalogue_: dict[str, Style] | None = None) -> "StyleSet":
        """The styles enabled in [styles] whose IR is built (others are logged and skipped)."""
        known = catalogue_ or catalogue()
        for name in settings.styles.enabled + [settings.styles.default]:
            if name not in known:
                raise weights.WeightsError(f"[styles] unknown style {name!r} "
                                           f"(known: {', '.join(known)})")
        available = []
        for name in settings.styles.enabled:
            if name == settings.styles.default or is_built(name):
                available.append(name)
            else:
                log.warning("style %s is enabled but not built: skipped (run `booth styles build %s`)",
                            name, name)
        for name in available:
            companion = known[name].companion
            if companion and not is_built(companion):
                log.warning("style %s (the scene under %s's faces) is not built", companion, name)
        return cls(settings, available, known, loader)

    def label(self, name: str) -> str:
        return self.catalogue[name].label

    def role(self, name: str) -> str:
        return self.catalogue[name].role

    def style(self, name: str) -> Style:
        return self.catalogue[name]

    def companions(self) -> set[str]:
        """The scene styles under the available face styles' faces."""
        return {self.catalogue[n].companion for n in self.available if self.catalogue[n].companion}

    def check(self, name: str) -> str:
        """``name`` if it is an available style (or a companion of one); ValueError
        with one clear line if not."""
        if name not in self.available and name not in self.companions():
            raise ValueError(f"style {name!r} is not available (available: {', '.join(self.available)})")
        return name

    def next_style(self, current: str, step: int = 1) -> str:
        """The available style ``step`` places after ``current`` (wrapping round)."""
        names = self.available
        index = names.index(current) if current in names else 0
        return names[(index + step) % len(names)]

    def loaded(self) -> list[str]:
        """Compiled styles, least recently used first."""
        with self._lock:
            return list(self._loaded)

    def generator(self, name: str) -> StyleGenerator:
        """The compiled generator of a style (compiled and warmed on first use)."""
        self.check(name)
        with self._lock:
            if name in self._loaded:
                self._loaded.move_to_end(name)
                return self._loaded[name]
            started = time.perf_counter()
            loaded = self._load(self.catalogue[name])
            self.load_s[name] = round(time.perf_counter() - started, 2)
            self._loaded[name] = loaded
            self._evict()
            return loaded

    def _evict(self) -> None:
        """Drop the least recently used styles beyond ``max_loaded``, never the default,
        the style just used, nor the companion under its faces (a face style's photo
        needs both: it may go one over the limit)."""
        newest = next(reversed(self._loaded))
        kept = {self.default, newest, self.catalogue[newest].companion}
        while len(self._loaded) > self.max_loaded:
            victim = next((n for n in self._loaded if n not in kept), None)
            if victim is None:
                return
            del self._loaded[victim]
            log.info("style %s unloaded (max_loaded = %d)", victim, self.max_loaded)
