"""Photo strips: three or four shots composed into a classic 2x6 in strip, a 2x2 square
for phones, and a print sheet with two strips side by side and a cut line.

>>> shot_maker = ShotPipeline(pipeline, shots=4)     # shares the loaded networks
>>> cells = [shot_maker.stylize(frame, style)[0] for frame in frames]
>>> strip, square = compose_strip(cells, accent), compose_square(cells, accent)
>>> page = print_sheet(strip, (1800, 1200), badge=qr_image)   # a 4x6 in print

Each shot goes through the photo's own pipeline (faces found, levelled and framed,
stylized in the guest's style) at the shape of a strip cell, so no face is cut by a
later crop. The strip is 600 x 1800 px (2 x 6 in at :data:`STRIP_DPI`): the shots one
under the other and a footer band in the event's accent colour, where the print puts
each strip's QR code. The square (:data:`SQUARE_SIDE`) holds the shots two by two,
each cut to a square around its middle (the framing centres the faces); with three
shots the fourth place is an accent tile.
"""

from __future__ import annotations

import cv2
import numpy as np

from booth.vision.pipeline import PhotoResult, Pipeline

#: Print resolution the strip is laid out for: 2 x 6 in.
STRIP_DPI = 300
STRIP_WIDTH, STRIP_HEIGHT = 2 * STRIP_DPI, 6 * STRIP_DPI
#: White border around the shots and between them, in pixels of the strip.
STRIP_MARGIN = 30
STRIP_GAP = 18
#: The footer band under the shots (the print puts each strip's QR code in it).
STRIP_FOOTER = 210
#: The phone's picture: the shots two by two.
SQUARE_SIDE = 1080
SQUARE_MARGIN = 24
SQUARE_GAP = 16
#: Generator size (long side) of each shot: a strip cell is 540 px wide at most, and a
#: small size keeps the last shot's stylizing short (the strip is ready soon after it).
SHOT_GENERATOR_SIZE = 384
#: The cut line on the print sheet: grey dashes this long, this far apart.
CUT_DASH, CUT_SPACE, CUT_GREY = 24, 16, 150


def cell_shape(shots: int) -> tuple[int, int]:
    """(height, width) of one shot's place on the strip."""
    width = STRIP_WIDTH - 2 * STRIP_MARGIN
    height = (STRIP_HEIGHT - 2 * STRIP_MARGIN - STRIP_FOOTER - (shots - 1) * STRIP_GAP) // shots
    return height, width


def cell_top(index: int, shots: int) -> int:
    """The y of shot ``index``'s top edge on the strip."""
    return STRIP_MARGIN + index * (cell_shape(shots)[0] + STRIP_GAP)


def hex_rgb(colour: str) -> tuple[int, int, int]:
    """"#rrggbb" as an (r, g, b) tuple."""
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


class ShotPipeline:
    """The booth's pipeline, framing and stylizing at a strip cell's shape: it shares the
    loaded networks (no second copy in memory) with settings for the cell. Anything else
    with :meth:`Pipeline.process`'s signature is used as it is (its output fitted)."""

    def __init__(self, pipeline, shots: int) -> None:
        height, width = cell_shape(shots)
        self.shape = (height, width)
        self.pipeline = pipeline
        if isinstance(pipeline, Pipeline):
            settings = pipeline.settings.replace("face", aspect=round(width / height, 4))
            settings = settings.replace("storage", result_long_side=width)
            self.pipeline = Pipeline(settings, pipeline.generator, pipeline.detector, pipeline.styles)

    def stylize(self, rgb: np.ndarray, style: str | None = None) -> tuple[np.ndarray, PhotoResult]:
        """One shot (the full camera frame): (its anime cell, exactly :attr:`shape`; the
        pipeline's result, for its faces and timings). ``style`` None: the default."""
        result = self.pipeline.process(rgb, size=SHOT_GENERATOR_SIZE, style=style)
        return fit_cell(result.stylized, self.shape), result


def fit_cell(rgb: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``rgb`` cut to the aspect of ``shape`` around its middle and resized to it."""
    height, width = shape
    h, w = rgb.shape[:2]
    if w * height > h * width:  # too wide: cut the sides
        keep = max(1, round(h * width / height))
        rgb = rgb[:, (w - keep) // 2:(w - keep) // 2 + keep]
    else:
        keep = max(1, round(w * height / width))
        rgb = rgb[(h - keep) // 2:(h - keep) // 2 + keep]
    if rgb.shape[:2] == shape:
        return np.ascontiguousarray(rgb)
    method = cv2.INTER_AREA if rgb.shape[0] > height else cv2.INTER_CUBIC
    return cv2.resize(rgb, (width, height), interpolation=method)


def compose_strip(cells: list[np.ndarray], accent: str = "#ff5c8a") -> np.ndarray:
    """The 2 x 6 in strip (:data:`STRIP_HEIGHT` x :data:`STRIP_WIDTH` RGB): the shots one
    under the other on white, and the accent footer band."""
    if len(cells) not in (3, 4):
        raise ValueError(f"a strip has 3 or 4 shots, not {len(cells)}")
    strip = np.full((STRIP_HEIGHT, STRIP_WIDTH, 3), 255, np.uint8)
    height, width = cell_shape(len(cells))
    for index, cell in enumerate(cells):
        top = cell_top(index, len(cells))
        strip[top:top + height, STRIP_MARGIN:STRIP_MARGIN + width] = fit_cell(cell, (height, width))
    footer_top = STRIP_HEIGHT - STRIP_MARGIN - STRIP_FOOTER
    strip[footer_top:STRIP_HEIGHT - STRIP_MARGIN, STRIP_MARGIN:STRIP_WIDTH - STRIP_MARGIN] = hex_rgb(accent)
    return strip


def compose_square(cells: list[np.ndarray], accent: str = "#ff5c8a") -> np.ndarray:
    """The phone's picture (:data:`SQUARE_SIDE` square): the shots two by two, each cut
    to a square; with three shots the fourth place is an accent tile."""
    if len(cells) not in (3, 4):
        raise ValueError(f"a strip has 3 or 4 shots, not {len(cells)}")
    side = (SQUARE_SIDE - 2 * SQUARE_MARGIN - SQUARE_GAP) // 2
    square = np.full((SQUARE_SIDE, SQUARE_SIDE, 3), 255, np.uint8)
    tiles = [fit_cell(cell, (side, side)) for cell in cells]
    if len(tiles) == 3:
        tiles.append(np.full((side, side, 3), hex_rgb(accent), np.uint8))
    for index, tile in enumerate(tiles):
        top = SQUARE_MARGIN + (index // 2) * (side + SQUARE_GAP)
        left = SQUARE_MARGIN + (index % 2) * (side + SQUARE_GAP)
        square[top:top + side, left:left + side] = tile
    return square


def footer_box() -> tuple[int, int, int, int]:
    """(top, left, height, width) of the strip's footer band."""
    top = STRIP_HEIGHT - STRIP_MARGIN - STRIP_FOOTER
    return top, STRIP_MARGIN, STRIP_FOOTER, STRIP_WIDTH - 2 * STRIP_MARGIN


def print_sheet(strip: np.ndarray, page_size: tuple[int, int],
                badge: np.ndarray | None = None) -> np.ndarray:
    """A print page (``page_size``: width, height in px) with two copies of ``strip`` side
    by side and a dashed cut line between them; ``badge`` (e.g. the photo's QR code, RGB)
    goes into each strip's footer. On a landscape page (4 x 6 in lying down) the pair
    is turned a quarter so it fills the sheet."""
    strip = strip.copy()
    if badge is not None:
        top, left, height, width = footer_box()
        side = height - 24
        code = cv2.resize(badge, (side, side), interpolation=cv2.INTER_NEAREST)
        x = left + width - side - 12
        strip[top + 12:top + 12 + side, x:x + side] = code
    pair = np.concatenate([strip, strip], axis=1)
    dash_x = strip.shape[1]
    for y in range(0, pair.shape[0], CUT_DASH + CUT_SPACE):
        pair[y:y + CUT_DASH, dash_x - 1:dash_x + 1] = CUT_GREY
    page_w, page_h = page_size
    if page_w > page_h:
        pair = np.ascontiguousarray(np.rot90(pair))
    scale = min(page_w / pair.shape[1], page_h / pair.shape[0])
    size = (max(1, round(pair.shape[1] * scale)), max(1, round(pair.shape[0] * scale)))
    if size != (pair.shape[1], pair.shape[0]):
        pair = cv2.resize(pair, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    page = np.full((page_h, page_w, 3), 255, np.uint8)
    top, left = (page_h - pair.shape[0]) // 2, (page_w - pair.shape[1]) // 2
    page[top:top + pair.shape[0], left:left + pair.shape[1]] = pair
    return page
