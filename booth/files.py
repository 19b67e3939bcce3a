"""Files written so that a crash or power cut at any moment leaves the old file or the
new one, never half of either: the data goes to a temporary name in the same folder, is
synced, then renamed over the target (a rename within one file system is atomic).

A crash can leave a temporary file behind: hidden, ending in :data:`TMP_SUFFIX`, so
whoever owns the folder sweeps them when it starts (:func:`remove_leftovers`: the photo
store's repair, the print queue). OpenVINO IR, two
files renamed in order, has its own writer (:mod:`booth.model.irfile`).
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from pathlib import Path

from booth.errors import UserError

#: The ending of a file being written (see the module docstring).
TMP_SUFFIX = ".tmp"


def write_atomic(path: Path, data: bytes | str, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` (str is written as UTF-8), complete or not at all.

    ``mode`` sets the file's exact permission bits (the umask does not apply, so a
    secret written 0o600 never exists more open); by default 0o644 less the umask.
    The folder itself is not synced: a caller that must know the new name survives a
    power cut syncs it once after its writes (:func:`fsync_dir`).
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    # A name of its own: two writers of one path never share a temporary file.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}{TMP_SUFFIX}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                 0o644 if mode is None else mode)
    try:
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path: Path, data: object, indent: int = 2) -> None:
    """``data`` as a JSON document (with a final newline), written atomically; the
    folder is made if missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(data, indent=indent) + "\n")


def remove_leftovers(folder: Path) -> int:
    """Delete the temporary files an interrupted :func:`write_atomic` left in ``folder``
    (never a finished file); returns how many. For the folder's owner, before it writes."""
    removed = 0
    for tmp in folder.glob("*" + TMP_SUFFIX):
        tmp.unlink(missing_ok=True)
        removed += 1
    return removed


def fsync_dir(path: Path) -> None:
    """Sync a folder, so that the names just written or renamed in it survive a power cut."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DataLock:
    """One process at a time on a data folder (``booth run``, ``booth export --wipe``):
    an exclusive ``flock`` on ``<data_dir>/booth.lock``, let go when the process ends
    however it ends. Usable as a context manager."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / "booth.lock"
        self._fd: int | None = None

    def acquire(self) -> "DataLock":
        """Hold the folder; UserError when another booth process does."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UserError(f"{self.path.parent} is in use by a running booth; stop it first "
                            "(sudo systemctl stop booth)") from None
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing lets the lock go
            self._fd = None

    def __enter__(self) -> "DataLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
