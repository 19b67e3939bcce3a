"""Hostile clients from a non-loopback address: the booth in a network namespace of its own.

``isolated(command, guests)`` wraps a command so that it runs in a new network
namespace (``unshare -n``) whose only interface is ``lo``, up, with 127.0.0.1 and
the addresses ``10.99.0.1`` .. ``10.99.0.<guests>`` (each a /32). Nothing there
reaches any other network: the namespace has no other interface and no route.

``connect(pid, source, port)`` opens a TCP connection *inside that namespace* from
any thread of the test: the calling thread joins the namespace of process ``pid``
just long enough to create the socket (a socket stays in the namespace it was made
in), then returns to its own. A client bound to 10.99.0.x is, to the booth, a phone
on the Wi-Fi; one bound to 127.0.0.1 is the booth's own screen.

``run_in_namespace(script)`` runs a whole Python script in such a namespace (with
10.99.0.1 only) in a child process and returns the JSON line it prints last.

``read_response(sock)`` reads an answer to its end.

``scripted_booth_served(folder, port, photo, password, guests)`` runs the web server
around a scripted booth with one photo in such a namespace, for a test's ``with``.

``require()`` skips the calling test, saying why, where no namespace can be made.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from booth import PROJECT_ROOT

BOOTH_ADDRESS = "10.99.0.1"
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL("libc.so.6", use_errno=True)


@functools.cache
def problem() -> str | None:
    """Why a network namespace cannot be made here (None when it can): made once, for real."""
    if os.geteuid() != 0:
        return "network namespaces need root (unshare -n, setns)"
    if not (shutil.which("unshare") and shutil.which("ip")):
        return "unshare or ip (util-linux, iproute2) is not installed"
    result = subprocess.run(isolated(["true"]), capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        return f"cannot make a network namespace: {result.stderr.strip()}"
    return None


def require() -> None:
    """Skip the calling test where no network namespace can be made."""
    reason = problem()
    if reason:
        pytest.skip(reason)


def guest(number: int) -> str:
    """The address of guest ``number`` (1 is the booth's own address on the Wi-Fi)."""
    return f"10.99.0.{number}"


def isolated(command: list[str], guests: int = 1) -> list[str]:
    """``command`` run in a new network namespace with ``lo`` and 10.99.0.1..<guests>."""
    script = ("set -e; ip link set lo up; "
              f"for i in $(seq 1 {guests}); do ip addr add 10.99.0.$i/32 dev lo; done; "
              'exec "$@"')
    return ["unshare", "-n", "--", "sh", "-c", script, "sh", *command]


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@contextlib.contextmanager
def inside(pid: int) -> Iterator[None]:
    """The calling thread in the network namespace of process ``pid``, then back."""
    own = os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net", os.O_RDONLY)
    theirs = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
    try:
        _setns(theirs)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(theirs)
        os.close(own)


def connect(pid: int, source: str, port: int, timeout: float = 30.0,
            target: str = BOOTH_ADDRESS) -> socket.socket:
    """A TCP connection from ``source`` to ``target:port`` inside ``pid``'s namespace."""
    with inside(pid):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.bind((source, 0))
        sock.connect((target, port))
    except OSError:
        sock.close()
        raise
    return sock


def read_response(sock: socket.socket) -> tuple[bytes, float | None]:
    """All the server sends until it closes, resets or stays silent past the socket's
    timeout; and the ``time.monotonic()`` its first bytes came at (None if none came)."""
    chunks = []
    first = None
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        first = first or time.monotonic()
        chunks.append(chunk)
    return b"".join(chunks), first


def run_in_namespace(script: str, *args: str, timeout: float = 120) -> dict:
    """Run Python ``script`` (with ``args`` in sys.argv[1:]) in a fresh namespace with
    10.99.0.1; the JSON object it prints on its last line."""
    result = subprocess.run(isolated([sys.executable, "-c", script, *args]), capture_output=True,
                            text=True, timeout=timeout, cwd=PROJECT_ROOT)
    assert result.returncode == 0, f"namespace child failed:\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def child(command: list[str], log: Path, guests: int = 1,
          stop_s: float = 15) -> Iterator[tuple[subprocess.Popen, list[str]]]:
    """``command`` started in a namespace with ``guests`` addresses (its stderr in
    ``log``), for a ``with``: (the process, the words after "READY" on the first line it
    prints). Leaving the ``with`` closes its stdin, which tells it to stop, and kills it
    after ``stop_s``."""
    require()
    with open(log, "w") as stderr:
        process = subprocess.Popen(isolated(command, guests=guests), stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=PROJECT_ROOT)
    try:
        line = process.stdout.readline().split()
        assert line[:1] == ["READY"], log.read_text()[-3000:]
        yield process, line[1:]
    finally:
        process.stdin.close()
        try:
            process.wait(stop_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextlib.contextmanager
def scripted_booth_served(folder: Path, port: int, photo: Path, password: str,
                          guests: int) -> Iterator[tuple[subprocess.Popen, str, str]]:
    """The scripted booth's web server on ``port`` in a namespace with ``guests``
    addresses, its data in ``folder``: (the process, the photo's id, its owner key)."""
    command = [sys.executable, str(Path(__file__)), str(folder), str(port), str(photo), password]
    with child(command, folder / "web.log", guests=guests) as (process, (photo_id, owner_key)):
        yield process, photo_id, owner_key


def serve_scripted_booth(data_dir: str, port: int, photo: str, password: str) -> None:
    """Run the web server around a scripted booth on 0.0.0.0:``port`` (inside the
    namespace), with one photo; print "READY <photo id> <owner key>" and serve until
    stdin closes."""
    from booth.web import create_app, serve
    from webbooth import scripted_booth

    booth = scripted_booth(Path(data_dir), Path(photo), admin_password=password,
                           base_url=f"http://{BOOTH_ADDRESS}:{port}")
    photo_id = booth.add_photo()
    server = serve(create_app(booth), "0.0.0.0", port, threads=8)
    print("READY", photo_id, booth.store.get(photo_id).owner_key, flush=True)
    sys.stdin.read()
    server.close()
    booth.close()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    serve_scripted_booth(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])
