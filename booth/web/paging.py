"""Numbers from the query string, and which page of the photos a listing shows.

Only the digits 0-9 make a number here: anything else a client sends (a sign, "²",
"1e9", five thousand digits) is a 400 with a sentence, never a 500.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import abort, request

from booth.daemon.store import Photo, PhotoStore

#: Highest page number any listing accepts.
MAX_PAGE = 100_000

_DIGITS = re.compile(r"[0-9]+")


def query_number(name: str, default: int, low: int, high: int) -> int:
    """The query parameter ``name`` as a whole number in ``low..high`` (``default`` when
    absent); a 400 naming the parameter and its range for anything else."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if len(raw) > len(str(high)) or not _DIGITS.fullmatch(raw) or not low <= int(raw) <= high:
        abort(400, f"{name} must be a whole number from {low} to {high}")
    return int(raw)


@dataclass(frozen=True)
class PhotoPage:
    """One page of the store's photos, newest first, as the templates show it."""

    photos: list[Photo]
    number: int
    pages: int
    total: int


def requested_page(store: PhotoStore, page_size: int) -> PhotoPage:
    """The page the ``page`` query parameter asks for (the first when absent)."""
    number = query_number("page", 1, 1, MAX_PAGE)
    total = store.count()
    photos = store.list(limit=page_size, offset=(number - 1) * page_size)
    return PhotoPage(photos=photos, number=number, pages=max(1, -(-total // page_size)), total=total)
