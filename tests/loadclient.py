"""Phones on the event Wi-Fi, simulated: N clients browsing the gallery for S seconds.

Each client behaves like a guest's phone: it opens the gallery (a random page,
usually the first), downloads the thumbnails a phone screen shows, looks for a
moment, sometimes opens one photo's page and its anime image, and goes on. A
thumbnail it has seen before is revalidated with its ETag (HTTP 304), as a browser
does. Every request's latency (until the last byte) and status are recorded.

Run as a script (the load test starts it in its own process, so the clients do not
share the server's interpreter)::

    python tests/loadclient.py http://127.0.0.1:8080 --clients 50 --seconds 30

prints one JSON object: requests, errors, p50/p90/p99/max latency (ms), requests/s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import statistics
import sys
import threading
import time
from urllib.parse import urlsplit

THUMB = re.compile(r'src="(/p/[A-Za-z0-9_-]+/thumb\.jpg)"')
PAGE = re.compile(r'href="(/p/[A-Za-z0-9_-]+)"')
#: Thumbnails a phone screen shows before the guest scrolls (the rest load lazily).
VISIBLE_THUMBS = 8


class Phone(threading.Thread):
    def __init__(self, host: str, port: int, deadline: float, think_s: tuple[float, float],
                 seed: int) -> None:
        super().__init__(daemon=True)
        self.host, self.port, self.deadline, self.think_s = host, port, deadline, think_s
        self.random = random.Random(seed)
        self.samples: list[tuple[float, int, str]] = []  # (latency ms, status, path)
        self.errors: list[str] = []
        self.etags: dict[str, str] = {}
        self.conn: http.client.HTTPConnection | None = None

    def fetch(self, path: str) -> bytes:
        headers = {"Accept-Encoding": "identity"}
        if path in self.etags:
            headers["If-None-Match"] = self.etags[path]
        started = time.perf_counter()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
            self.conn.request("GET", path, headers=headers)
            response = self.conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.errors.append(f"{path}: {type(exc).__name__}: {exc}")
            self.conn = None
            return b""
        latency = (time.perf_counter() - started) * 1e3
        self.samples.append((latency, response.status, path))
        if response.status >= 400:
            self.errors.append(f"{path}: HTTP {response.status}")
        if response.getheader("ETag"):
            self.etags[path] = response.getheader("ETag")
        if response.getheader("Connection", "").lower() == "close":
            self.conn = None
        return body

    def think(self) -> None:
        time.sleep(self.random.uniform(*self.think_s))

    def run(self) -> None:
        # Guests do not all open the gallery in the same millisecond: each phone's first
        # visit falls somewhere in the first pause.
        time.sleep(self.random.uniform(0, self.think_s[1]))
        while time.monotonic() < self.deadline:
            page = 1 if self.random.random() < 0.7 else self.random.randint(1, 3)
            html = self.fetch(f"/?page={page}").decode("utf-8", "replace")
            for thumb in THUMB.findall(html)[:VISIBLE_THUMBS]:
                self.fetch(thumb)
            self.think()
            pages = PAGE.findall(html)
            if pages and self.random.random() < 0.3 and time.monotonic() < self.deadline:
                photo = self.random.choice(pages)
                self.fetch(photo)
                self.fetch(photo + "/anime.jpg")
                self.think()


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[index]


def run(url: str, clients: int, seconds: float, think_s: tuple[float, float]) -> dict:
    parts = urlsplit(url)
    started = time.monotonic()
    deadline = started + seconds
    phones = [Phone(parts.hostname, parts.port or 80, deadline, think_s, seed) for seed in range(clients)]
    for phone in phones:
        phone.start()
    for phone in phones:
        phone.join(seconds + 30)
    elapsed = time.monotonic() - started
    latencies = sorted(s[0] for p in phones for s in p.samples)
    statuses: dict[str, int] = {}
    for phone in phones:
        for _, status, _ in phone.samples:
            statuses[str(status)] = statuses.get(str(status), 0) + 1
    errors = [e for p in phones for e in p.errors]
    return {
        "clients": clients, "seconds": round(elapsed, 1), "requests": len(latencies),
        "requests_per_s": round(len(latencies) / elapsed, 1), "errors": len(errors),
        "error_examples": errors[:5], "statuses": statuses,
        "p50_ms": round(percentile(latencies, 0.50), 1), "p90_ms": round(percentile(latencies, 0.90), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1), "max_ms": round(latencies[-1] if latencies else 0, 1),
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--think", type=float, nargs=2, default=(1.0, 3.0), metavar=("MIN_S", "MAX_S"),
                        help="pause between a phone's page views (seconds)")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.url, args.clients, args.seconds, tuple(args.think))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
