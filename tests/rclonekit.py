"""Real rclone remotes for the sync tests: ``rclone serve webdav`` and ``rclone serve sftp``
on loopback over a folder of the test's, configured for the booths through rclone's
environment variables (``RCLONE_CONFIG_<NAME>_TYPE`` ...), no config file."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import time
from pathlib import Path

RCLONE = "/usr/bin/rclone"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def obscured(password: str) -> str:
    """rclone keeps passwords obscured in its config (``rclone obscure``)."""
    return subprocess.run([RCLONE, "obscure", password], capture_output=True, text=True,
                          check=True).stdout.strip()


class RemoteServer:
    """``rclone serve KIND`` on 127.0.0.1 over ``root``; ``env(name)`` configures remote
    ``name`` for rclone clients. ``size_mb`` serves a tmpfs of that size (a full remote),
    mounted in a mount namespace of the server's own, so it vanishes with it."""

    def __init__(self, kind: str, root: Path, size_mb: int = 0) -> None:
        assert kind in ("webdav", "sftp")
        self.kind, self.root, self.size_mb = kind, root, size_mb
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        root.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        serve = [RCLONE, "serve", self.kind, str(self.root), "--addr", f"127.0.0.1:{self.port}",
                 "--user", "booth", "--pass", "booth-test-pw"]
        if self.kind == "sftp":
            serve += ["--key", str(self.root.parent / f"hostkey-{self.port}")]
        if not self.size_mb:
            return serve
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                f'mount -t tmpfs -o size={self.size_mb}m tmpfs "$0" && exec "$@"', str(self.root), *serve]

    def start(self) -> "RemoteServer":
        if self.kind == "sftp" and not (self.root.parent / f"hostkey-{self.port}").exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                            str(self.root.parent / f"hostkey-{self.port}")], check=True)
        self.process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise AssertionError(f"rclone serve {self.kind} did not listen on {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def env(self, name: str) -> dict[str, str]:
        prefix = f"RCLONE_CONFIG_{name.upper()}_"
        if self.kind == "webdav":
            values = {"TYPE": "webdav", "URL": f"http://127.0.0.1:{self.port}", "VENDOR": "other"}
        else:
            values = {"TYPE": "sftp", "HOST": "127.0.0.1", "PORT": str(self.port),
                      "KNOWN_HOSTS_FILE": "", "SHELL_TYPE": "none"}
        values |= {"USER": "booth", "PASS": obscured("booth-test-pw")}
        return {prefix + k: v for k, v in values.items()}


def remote_files(root: Path) -> dict[str, str]:
    """Every file under the served folder (as seen on the server side): path -> sha256."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def wait_until(condition, timeout: float = 60.0, step: float = 0.2, what: str = "condition"):
    """Poll ``condition`` until it returns something true; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def with_env(extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **extra}
