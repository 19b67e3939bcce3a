"""What a guest chooses at the kiosk before pressing: the style and the mode.

The booth (:meth:`booth.daemon.booth.Booth.choose_style`,
:meth:`~booth.daemon.booth.Booth.choose_mode`) decides *whether* a choice is taken now
(only between photos); this module says what there is to choose and how the kiosk
names it.
"""

from __future__ import annotations

from typing import Any

from booth import config
from booth.vision import mirror
from booth.words import N_

#: What the kiosk calls each mode.
MODE_LABELS = {"photo": N_("Photo"), "strip": N_("Photo strip"), "boomerang": N_("Boomerang")}


def styles_available(pipeline: Any | None, settings: config.Settings) -> list[str]:
    """The styles a guest can choose now (just the default until the model is loaded)."""
    styles = getattr(pipeline, "styles", None)
    return list(styles.available) if styles is not None else [settings.styles.default]


def style_choice(pipeline: Any | None, settings: config.Settings, current: str) -> dict:
    """{"current", "styles": [{"name", "label", "role"}]} for the kiosk."""
    styles = getattr(pipeline, "styles", None)

    def describe(name: str) -> dict:
        if styles is None:
            return {"name": name, "label": name, "role": "scene"}
        return {"name": name, "label": styles.label(name), "role": styles.role(name)}

    return {"current": current, "styles": [describe(n) for n in styles_available(pipeline, settings)]}


def modes_available(settings: config.Settings) -> list[str]:
    """The modes a guest can choose ([cycle] modes; a boomerang needs the mirror's
    Cute network built)."""
    modes = list(settings.cycle.modes)
    if "boomerang" in modes and not mirror.network_available(settings.preview.style):
        modes.remove("boomerang")
    return modes or ["photo"]


def mode_choice(settings: config.Settings, current: str) -> dict:
    """{"current", "modes": [{"name", "label"}], "strip_shots"} for the kiosk."""
    return {"current": current, "strip_shots": settings.cycle.strip_shots,
            "modes": [{"name": m, "label": MODE_LABELS[m]} for m in modes_available(settings)]}


def pick(what: str, available: list[str], current: str, name: str | None, step: int) -> str:
    """``name``, or the choice ``step`` places along ``available`` from ``current``;
    ValueError naming ``what`` ("style", "mode") when ``name`` is not available."""
    if name is None:
        index = available.index(current) if current in available else 0
        name = available[(index + step) % len(available)]
    if name not in available:
        raise ValueError(f"{what} {name!r} is not available (available: {', '.join(available)})")
    return name
