"""Power cuts for the tests: SIGKILL a process in the middle of its writes, then check that
what it left on disk is complete or absent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from booth import config
from booth.daemon.store import KINDS, PhotoStore, extra_files
from booth.vision.images import load_image


def sigkill_while_writing(writer: str, *args: str, delays: Sequence[float]) -> Iterator[int]:
    """Run the Python source ``writer`` once per delay and SIGKILL it that many seconds
    after it says it is writing; yield the round number once the child is gone, so the
    caller can check what it left before the next round.

    The child gets ``args`` then the round number (a seed, so each round writes other
    pictures) as its arguments, and prints a line ``ready`` when its writing loop starts.
    """
    for round_number, delay in enumerate(delays):
        child = subprocess.Popen([sys.executable, "-c", writer, *args, str(round_number)],
                                 stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "ready"
            time.sleep(delay)
        finally:
            # SIGKILL, as a power cut: no handler, no flush, no cleanup in the child.
            os.kill(child.pid, signal.SIGKILL)
            child.wait(10)
            child.stdout.close()
        yield round_number


def check_consistent(root: Path) -> int:
    """Open the store (which repairs it) and check every row has complete, decodable
    files and nothing else is left; the number of photos in it."""
    store = PhotoStore(root, config.defaults().replace("storage", min_free_mb=0).storage)
    try:
        photos = store.list(limit=10_000)
        for photo in photos:
            for kind in KINDS:
                if kind == "original" and not photo.original_kept:  # retention deleted it
                    assert not (root / photo.id / "original.jpg").exists()
                    continue
                assert load_image(store.file_path(photo.id, kind)).size > 0
            for name in extra_files(photo):  # a strip's or a boomerang's own files
                assert store.extra_path(photo.id, name).stat().st_size > 0
        on_disk = {p.name for p in root.iterdir() if p.is_dir()}
        assert on_disk == {p.id for p in photos}, "folders without rows survived the repair"
        assert not list(root.rglob("*.tmp"))
        return len(photos)
    finally:
        store.close()
