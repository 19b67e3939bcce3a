"""Charts of ``booth bench --json`` figures, drawn with matplotlib for the docs site.

Each chart names the machine the figures were measured on (the JSON's ``machine`` line):
a figure without its machine says nothing. Charts are written as WebP, small enough to
keep in the repository.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
from PIL import Image  # noqa: E402

#: Chart width and height in inches, and the resolution: about 900 x 450 pixels.
FIGURE_SIZE = (9.0, 4.5)
DPI = 100


def save_webp(figure, path: Path, machine: str) -> Path:
    """``figure`` with its machine line under it, as a WebP file at ``path``."""
    figure.text(0.01, 0.01, f"measured on: {machine}", fontsize=7, color="#555555", wrap=True)
    figure.tight_layout(rect=(0, 0.05, 1, 1))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    plt.close(figure)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.open(buffer).convert("RGB").save(path, "WEBP", quality=80, method=6)
    return path


def grouped_bars(axes, groups: list[str], series: dict[str, list[float | None]], unit: str) -> None:
    """Bars side by side: one group per label, one bar per series, each bar labelled."""
    width = 0.8 / max(1, len(series))
    for index, (name, values) in enumerate(series.items()):
        xs = [g + (index - (len(series) - 1) / 2) * width for g in range(len(groups))]
        heights = [v if v is not None else 0 for v in values]
        bars = axes.bar(xs, heights, width, label=name)
        axes.bar_label(bars, labels=[f"{v:g}" if v is not None else "" for v in values], fontsize=7, padding=2)
    axes.set_xticks(range(len(groups)), groups, fontsize=8)
    axes.set_ylabel(unit)
    axes.legend(fontsize=8)
    axes.spines[["top", "right"]].set_visible(False)


def runtimes_chart(bench: dict, path: Path) -> Path:
    """The generator's latency in each runtime at each size (``booth bench``)."""
    rows = {name: row for name, row in bench["generator"].items() if isinstance(row, dict)}
    sizes = sorted({size for row in rows.values() for size in row if size.isdigit()}, key=int)
    figure, axes = plt.subplots(figsize=FIGURE_SIZE)
    grouped_bars(axes, list(rows), {f"{size} px": [rows[name].get(size) for name in rows] for size in sizes},
                 "ms per image, log scale (lower is faster)")
    axes.set_yscale("log")  # the runtimes lie a hundred times apart
    axes.set_title("The generator in each runtime, side by side (median ms per image)")
    return save_webp(figure, path, bench["machine"])


def precisions_chart(bench: dict, path: Path) -> Path:
    """Each precision setting at the working sizes (``booth bench``'s ``precisions``)."""
    rows = bench["precisions"]
    shapes = sorted({shape for row in rows.values() for shape in row if "x" in shape},
                    key=lambda s: int(s.split("x")[0]))
    figure, axes = plt.subplots(figsize=FIGURE_SIZE)
    grouped_bars(axes, shapes, {f"{name} (runs in {row.get('runs_in', name)})": [row.get(s) for s in shapes]
                                for name, row in rows.items()}, "ms per image (lower is faster)")
    axes.set_title("[generator] precision at the working sizes (median ms per image)")
    return save_webp(figure, path, bench["machine"])


def styles_chart(bench: dict, machine: str, path: Path) -> Path:
    """Each style's INT8 and float latency at 512 px (``booth bench --styles``)."""
    styles = bench["styles"]
    labels = [f"{row.get('label', name)}\n({name})" for name, row in styles.items()]
    figure, axes = plt.subplots(figsize=FIGURE_SIZE)
    grouped_bars(axes, labels, {"INT8, 512 px": [row.get("int8_512_ms") for row in styles.values()],
                                "float, 512 px": [row.get("fp32_512_ms") for row in styles.values()]},
                 "ms per image (lower is faster)")
    axes.set_title("The styles: INT8 against float (median ms per image at 512 px)")
    return save_webp(figure, path, machine)


def mirror_chart(bench: dict, machine: str, path: Path) -> Path:
    """The live mirror's frames per second at each size and thread count (``booth bench --mirror``)."""
    rows = bench["rows"].values()
    sizes = sorted({row["long_side"] for row in rows})
    threads = sorted({row["threads"] for row in rows})
    fps = {(row["long_side"], row["threads"]): row["fps"] for row in rows}
    figure, axes = plt.subplots(figsize=FIGURE_SIZE)
    grouped_bars(axes, [f"{size} px" for size in sizes],
                 {f"{t} thread{'s' if t > 1 else ''}": [fps.get((size, t)) for size in sizes] for t in threads},
                 "frames per second (higher is smoother)")
    axes.set_title(f"The live anime mirror ({bench.get('style', 'cute')}): frames per second, one frame at a time")
    return save_webp(figure, path, machine)
