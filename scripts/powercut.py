"""Power cuts under the real booth: `booth run --demo` on LazyFS, cut at many instants.

Run by ``sudo scripts/powercut.sh`` (which builds LazyFS and passes ``--lazyfs``).

LazyFS keeps every write that was not fsynced in its own cache; dropping that cache is
what a power cut does to the disk. One cut here is:

* **clear**: the booth is SIGKILLed at a random instant of its work, then LazyFS's cache
  is dropped (``lazyfs::clear-cache``), in that order: nothing the dead booth wrote after
  the cut can reach the disk, and nothing it wrote before survives unless it was synced;
* **crash**: LazyFS is armed to kill itself before or after one operation (write, fsync,
  rename, create, unlink) on one of the store's files; when it fires, the file system
  and its cache are gone at that exact instant, and the booth is SIGKILLed after it.

Then the file system is unmounted and mounted again, the booth starts on it, and before
anything else the checks run (see :func:`Driver.verify`): every photo the booth had
acknowledged (a result shown on the kiosk, a phone's upload reported done, a variant
reported done) is there with the same bytes, page, thumbnail and variants; everything
it serves decodes whole; the index passes SQLite's integrity check without repair; a
photo deleted before the cut stays deleted and has no file left; nothing unacknowledged
left a trace (temporary files, folders or variant files without their row); the booth is
ready again.

The disk the booth checks for room is the real one: the test build of LazyFS passes
statfs through to its backing folder (scripts/lazyfs-statfs.patch).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import http.cookiejar
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "tests"))
from cupsd import PrivateCups, unavailable_reason  # noqa: E402  (the print tests' private CUPS)

BOOTH = PROJECT / ".venv" / "bin" / "booth"
#: The booth's settings for the run: one generator size, two styles, no live mirror and no
#: countdown, so a restart and a photo take seconds; everything else is the default,
#: the disk floor included.
BOOTH_CONFIG = """
[generator]
size = "384"
sizes = [384]
[styles]
enabled = ["hayao", "cute"]
default = "hayao"
max_loaded = 2
[face]
refine_size = 0
[preview]
anime = false
[cycle]
countdown_s = 0
show_result_s = 1.0
failsafe_s = 1.0
[upload]
per_minute = 600
[web]
yield_to_photo_ms = 0
[print]
enabled = {print_enabled}
printer = "{printer}"
mode = "admin"
max_per_photo = 100
"""
STYLE = "cute"  # the style photos are re-rendered in
#: Seconds to wait for READY=1: the first start compiles every network into an empty cache
#: (minutes on a slow or busy CPU); a restart loads them from the cache.
FIRST_START_S = 900
RESTART_S = 180
#: Files of the store and of the print queue whose operations the crash cuts follow:
#: (the temporary file's pattern, the final name's pattern or None). LazyFS reads at most
#: 100 bytes of a command, so the patterns are short; it wraps them in ".*".
CRASH_FILES = {
    "original": (r"\.original\.jpg\.[0-9a-f]+\.tmp", r"/original\.jpg"),
    "anime": (r"\.anime\.jpg\.[0-9a-f]+\.tmp", r"/anime\.jpg"),
    "thumb": (r"\.thumb\.jpg\.[0-9a-f]+\.tmp", r"/thumb\.jpg"),
    "variant": (r"\.variant-[a-z0-9_]+\.jpg\.[0-9a-f]+\.tmp", r"/variant-[a-z0-9_]+\.jpg"),
    "index-wal": (r"/index\.sqlite3-wal", None),
    "print-jobs": (r"\.jobs\.json\.[0-9a-f]+\.tmp", r"/jobs\.json"),
}
#: (operation, timing) pairs the crash cuts use; a rename is matched on its target. The WAL
#: is neither renamed nor (but once) created.
CRASH_OPS = [("write", "after"), ("fsync", "before"), ("fsync", "after"), ("rename", "before"),
             ("rename", "after"), ("create", "after")]
#: The booth work that writes each of those files.
WORK_FOR_FILE = {"original": "press", "anime": "upload", "thumb": "press", "variant": "restyle",
                 "index-wal": "delete", "print-jobs": "print"}
#: The booth's work the clear-cache cuts fall in, in turn ("start": during its start-up).
WORKS = ("press", "upload", "restyle", "delete", "print", "export", "start")
#: Cuts that once found something, run first every time (see each one's reason).
REGRESSIONS = (
    # The print queue's job list is written atomically, through a temporary file that a
    # cut between its create and its rename left behind in prints/ for good.
    ("print", ("create", "after", "print-jobs")),
    ("print", ("fsync", "after", "print-jobs")),
)
#: The works that need the generator: their lives wait for the booth's READY.
NEEDS_MODEL = {"press", "upload", "restyle"}


class LazyFS:
    """One LazyFS mount over a backing folder, with its fault fifo."""

    def __init__(self, binary: Path, work: Path) -> None:
        self.binary = binary
        self.backing = work / "disk"
        self.mountpoint = work / "data"
        self.fifo = work / "faults.fifo"
        self.log = work / "lazyfs.log"
        self.config = work / "lazyfs.toml"
        self.process: subprocess.Popen | None = None
        for folder in (self.backing, self.mountpoint):
            folder.mkdir(parents=True, exist_ok=True)
        if not self.fifo.exists():
            os.mkfifo(self.fifo)
        self.config.write_text(
            f'[faults]\nfifo_path="{self.fifo}"\n[cache]\napply_eviction=false\n'
            f'[cache.simple]\ncustom_size="128MB"\nblocks_per_page=1\n'
            f'[filesystem]\nlog_all_operations=false\nlogfile="{self.log}"\n')

    def mount(self) -> None:
        self.process = subprocess.Popen(
            [str(self.binary), str(self.mountpoint), "--config-path", str(self.config),
             "-o", "allow_other", "-o", "modules=subdir", "-o", f"subdir={self.backing}", "-f"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not os.path.ismount(self.mountpoint):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"LazyFS did not mount: {self.log_tail()}")
            time.sleep(0.02)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def clear_cache(self) -> None:
        """Drop every unsynced write, and return once LazyFS says it is done."""
        self.ask("lazyfs::clear-cache", ("cache is cleared",))

    def arm_crash(self, op: str, timing: str, file: str) -> None:
        """LazyFS kills itself at the first ``op`` on ``file`` (a :data:`CRASH_FILES` key)."""
        temporary, final = CRASH_FILES[file]
        if op == "rename":
            # The source pattern is required but not matched when a target is given.
            line = f"lazyfs::crash::timing={timing}::op=rename::from_rgx=tmp::to_rgx={final}"
        else:
            line = f"lazyfs::crash::timing={timing}::op={op}::from_rgx={temporary}"
        if self.ask(line, ("received: VALID crash fault", "received: INVALID crash fault")) != 0:
            raise RuntimeError(f"LazyFS refused {line!r}: {self.log_tail()}")

    def ask(self, line: str, answers: tuple[str, ...], timeout: float = 10) -> int:
        """Send a command and wait for one of its answers in the log; which one it was."""
        start = self.log.stat().st_size if self.log.exists() else 0
        fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.log, "rb") as log:
                log.seek(start)
                said = log.read().decode(errors="replace")
            for number, answer in enumerate(answers):
                if answer in said:
                    return number
            time.sleep(0.01)
        raise RuntimeError(f"LazyFS did not answer {line!r}: {self.log_tail()}")

    def unmount(self) -> None:
        if subprocess.run(["fusermount3", "-u", str(self.mountpoint)],
                          capture_output=True).returncode != 0:
            subprocess.run(["fusermount3", "-u", "-z", str(self.mountpoint)], capture_output=True)
        if self.process is not None:
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self) -> str:
        return " | ".join(self.log_text().splitlines()[-5:])


class Booth:
    """`booth run --demo` on the LazyFS mount, with a notify socket for its start-up."""

    def __init__(self, work: Path, data_dir: Path, camera: Path, env: dict) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.notify_path = work / "notify.sock"
        self.notify_path.unlink(missing_ok=True)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(self.notify_path))
        self.log = open(work / "booth.log", "a")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [str(BOOTH), "run", "--config", str(work / "booth.toml"), "--demo", str(camera),
             "--port", str(self.port), "--host", "127.0.0.1", "--data-dir", str(data_dir)],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=PROJECT,
            env={**env, "NOTIFY_SOCKET": str(self.notify_path)})
        self.cookies = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect())
        self.results: list[str] = []  # photo ids the kiosk showed as results
        self.web_up = self.ready = False

    def wait_for(self, message: str, timeout: float = RESTART_S) -> float:
        """Seconds from the start until the booth told systemd ``message`` (e.g. READY=1);
        a booth that exits first is reported with the end of its log."""
        deadline = time.monotonic() + timeout
        while True:
            self.notify.settimeout(max(0.01, min(1.0, deadline - time.monotonic())))
            try:
                got = self.notify.recv(4096).decode()
            except socket.timeout:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the booth exited ({self.process.returncode}) before saying "
                                       f"{message}: {self.log_tail()}") from None
                if time.monotonic() >= deadline:
                    raise RuntimeError(f"the booth did not say {message} within {timeout:.0f} s: "
                                       f"{self.log_tail()}") from None
                continue
            if got == "STATUS=loading the model":
                self.web_up = True
            if got == message:
                return time.monotonic() - self.started

    def log_tail(self) -> str:
        self.log.flush()
        lines = Path(self.log.name).read_text(errors="replace").splitlines()
        return " | ".join(lines[-5:])

    def check_alive(self) -> None:
        """Raises once the booth is gone: a work cut short stops waiting for its answer."""
        if self.process.poll() is not None:
            raise RuntimeError("the booth is gone")

    def kill(self) -> None:
        """SIGKILL: no handler, no flush, no cleanup, as a power cut."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.notify.close()
        self.log.close()

    # --- HTTP, as the kiosk, a phone and the organiser (loopback is the organiser) -------
    def request(self, path: str, data: bytes | None = None, headers: dict | None = None,
                timeout: float = 30) -> tuple[int, bytes, dict]:
        request = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        try:
            with self.cookies.open(request, timeout=timeout) as response:
                return response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), dict(exc.headers)

    def json(self, path: str, data: bytes | None = None, headers: dict | None = None) -> dict:
        status, body, _ = self.request(path, data, {"Accept": "application/json", **(headers or {})})
        if status >= 500:
            raise RuntimeError(f"{path}: HTTP {status}")
        return {"_status": status, **(json.loads(body) if body.startswith(b"{") else {})}

    def csrf(self, page: str) -> str:
        status, body, _ = self.request(page)
        found = re.search(rb'name="csrf" value="([^"]+)"', body)
        if status != 200 or found is None:
            raise RuntimeError(f"{page}: no form (HTTP {status})")
        return found.group(1).decode()

    def follow_events(self) -> None:
        """Read the kiosk's event stream on a thread: the results it shows are acknowledged."""
        def read() -> None:
            try:
                with urllib.request.urlopen(self.base + "/events", timeout=60) as stream:
                    for line in stream:
                        if not line.startswith(b"data: "):
                            continue
                        event = json.loads(line[6:])
                        if event["kind"] == "state" and event["data"].get("state") == "result":
                            self.results.append(event["data"]["photo_id"])
            except (OSError, http.client.HTTPException, ValueError):
                pass  # the booth was cut
        threading.Thread(target=read, daemon=True).start()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """A 303 after a form is the answer itself, not a page to fetch."""

    def redirect_request(self, *args, **kwargs):
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def multipart(field_name: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field_name}\"; "
            f"filename=\"{filename}\"\r\nContent-Type: image/jpeg\r\n\r\n").encode() + data + \
        f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def whole_jpeg(data: bytes) -> bool:
    """True when the bytes are a JPEG that decodes to its last row."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # raises on a truncated file (LOAD_TRUNCATED_IMAGES is off)
        return data.endswith(b"\xff\xd9")
    except Exception:
        return False


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


#: What must never happen, as the report names them.
FINDINGS = ("acknowledged photos lost", "photos served half-written", "traces of unacknowledged work",
            "deleted photos back", "index failing its integrity check")


@dataclass
class Figures:
    cuts: dict[str, int] = field(default_factory=dict)  #: cuts by where they fell
    checks: int = 0            #: checks of acknowledged photos after a cut
    fetched: int = 0           #: of which also fetched over HTTP as a guest would
    #: finding -> {what it is about (a photo id, a file): what was seen first}
    found: dict[str, dict[str, str]] = field(default_factory=lambda: {f: {} for f in FINDINGS})
    ready_s: list[float] = field(default_factory=list)
    normal_ready_s: float = 0.0

    def count(self, where: str) -> None:
        self.cuts[where] = self.cuts.get(where, 0) + 1

    def add(self, finding: str, about: str, seen: str) -> None:
        self.found[finding].setdefault(about, seen)

    @property
    def failures(self) -> int:
        return sum(len(about) for about in self.found.values())


@dataclass
class Ledger:
    """What the booth acknowledged: photos with their files' hashes, variants, deletes."""
    photos: dict[str, dict[str, str]] = field(default_factory=dict)  #: id -> {kind: sha256}
    variants: dict[tuple[str, str], str] = field(default_factory=dict)  #: (id, style) -> sha256
    deleted: set[str] = field(default_factory=set)
    deleting: set[str] = field(default_factory=set)  #: asked to delete, no answer yet
    lock: threading.Lock = field(default_factory=threading.Lock)

    def live(self) -> list[str]:
        with self.lock:
            return [p for p in self.photos if p not in self.deleted]


@dataclass(frozen=True)
class Plan:
    """Where one cut falls: during ``work``, at a random instant (``fault`` None) or at
    LazyFS's crash on (operation, timing, file)."""
    work: str
    fault: tuple[str, str, str] | None = None

    def __str__(self) -> str:
        if self.fault is None:
            return f"clear-cache during {self.work}"
        op, timing, file = self.fault
        return f"crash {timing} {op} of {file}"


class Driver:
    """Works the booth as an event does and cuts the power (see the module docstring)."""

    def __init__(self, args: argparse.Namespace, work: Path, env: dict) -> None:
        self.args = args
        self.work = work
        self.env = env
        self.rng = random.Random(args.seed)
        self.fs = LazyFS(args.lazyfs, work)
        self.ledger = Ledger()
        self.figures = Figures()
        self.camera = demo_folder()
        self.pictures = sorted(p for p in self.camera.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
        self.took: dict[str, float] = {}  #: how long each work takes when it is not cut
        self.problems: list[str] = []
        self.booth: Booth | None = None  #: the running booth, stopped if the run is stopped

    # --- the plan -----------------------------------------------------------------------
    def plans(self, count: int) -> list[Plan]:
        """``count`` cuts: each work at random instants, and every crash fault in turn."""
        faults = [(op, timing, file) for file in CRASH_FILES for op, timing in CRASH_OPS
                  if CRASH_FILES[file][1] is not None or op not in ("rename", "create")]
        plans = [Plan(work, fault) for work, fault in REGRESSIONS[:count]]
        for n in range(count - len(plans)):
            if n % 2 == 0:
                fault = faults[(n // 2) % len(faults)]
                plans.append(Plan(WORK_FOR_FILE[fault[2]], fault))
            else:
                plans.append(Plan(WORKS[(n // 2) % len(WORKS)]))
        return plans

    # --- one life of the booth, ended by a cut ------------------------------------------
    def life(self, plan: Plan) -> None:
        self.fs.mount()
        self.check_index()
        booth = self.booth = Booth(self.work, self.fs.mountpoint, self.camera, self.env)
        try:
            if plan.work == "start":  # the cut falls in the start: the store's repair, the model
                booth.wait_for("STATUS=starting")
                time.sleep(self.rng.uniform(0, max(self.figures.normal_ready_s, 1.0)))
                self.cut(booth, plan)
                return
            booth.wait_for("STATUS=loading the model")  # the web is up: check what survived
            self.verify(booth)
            if self.needs_model(plan.work):  # the others are cut while the model still loads
                self.figures.ready_s.append(booth.wait_for("READY=1"))
            booth.follow_events()
            self.work_then_cut(booth, plan)
        except Exception as exc:
            self.problems.append(f"{plan}: {type(exc).__name__}: {exc}")
            self.cut(booth, plan)

    def needs_model(self, work: str) -> bool:
        """A delete or a print with too few photos to work on makes one first."""
        live = len(self.ledger.live())
        return work in NEEDS_MODEL or (work == "delete" and live < 3) or (work == "print" and not live)

    def work_then_cut(self, booth: Booth, plan: Plan) -> None:
        """Do the plan's work on a thread, again and again, and cut the power during it:
        at LazyFS's crash, or at a random instant of the first two rounds (so the first
        is often acknowledged and the cut falls in the second)."""
        armed = plan.fault is not None
        if armed:
            self.fs.arm_crash(*plan.fault)
        stop = threading.Event()

        def again_and_again() -> None:
            while not stop.is_set() and booth.process.poll() is None:
                self.do_work(booth, plan.work)
                time.sleep(0.05)

        worker = threading.Thread(target=again_and_again, daemon=True)
        worker.start()
        if armed:
            deadline = time.monotonic() + 30
            while self.fs.alive() and time.monotonic() < deadline:
                time.sleep(0.005)
            if self.fs.alive():
                self.problems.append(f"{plan}: did not happen within 30 s; cut by clear-cache")
        else:
            time.sleep(self.rng.uniform(0, 2.2 * self.took.get(plan.work, 2.0)))
        stop.set()
        self.cut(booth, plan)
        worker.join(15)

    def cut(self, booth: Booth, plan: Plan) -> None:
        """The power cut: the booth dies, the unsynced writes are gone, the disk is remounted."""
        booth.kill()
        if self.fs.alive():
            self.fs.clear_cache()
        self.fs.unmount()
        self.figures.count(str(plan))

    # --- the works, as an event does them -------------------------------------------------
    def do_work(self, booth: Booth, work: str) -> None:
        started = time.monotonic()
        try:
            getattr(self, f"work_{work}")(booth)
        except (OSError, http.client.HTTPException, RuntimeError, ValueError, KeyError):
            return  # cut during it: what it had not acknowledged may vanish
        self.took[work] = time.monotonic() - started

    def work_press(self, booth: Booth) -> None:
        shown = len(booth.results)
        deadline = time.monotonic() + 30
        while booth.json("/api/trigger", b"")["_status"] != 202:
            booth.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError("the booth did not take a press")
            time.sleep(0.05)
        while len(booth.results) == shown:
            booth.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError("no result on the kiosk")
            time.sleep(0.02)
        self.acknowledge(booth, booth.results[-1])

    def work_upload(self, booth: Booth) -> None:
        picture = self.rng.choice(self.pictures)
        body, kind = multipart("photo", picture.name, picture.read_bytes())
        sent = booth.json("/upload", body, {"Content-Type": kind})
        if sent["_status"] != 202:
            raise RuntimeError(f"upload refused: {sent}")
        status = self.poll(booth, sent["status"])
        self.acknowledge(booth, status["photo_id"])

    def work_restyle(self, booth: Booth) -> None:
        with self.ledger.lock:
            todo = [p for p in self.ledger.photos if p not in self.ledger.deleted
                    and (p, STYLE) not in self.ledger.variants]
        if not todo:
            return self.work_press(booth)
        photo_id = self.rng.choice(todo)
        sent = booth.json(f"/p/{photo_id}/restyle", json.dumps({"style": STYLE}).encode(),
                          {"Content-Type": "application/json"})
        if sent["_status"] != 202:
            raise RuntimeError(f"restyle refused: {sent}")
        status = self.poll(booth, sent["status"])
        with self.ledger.lock:
            self.ledger.variants[(photo_id, STYLE)] = ""  # acknowledged; its bytes next
        _, data, _ = booth.request(status["variant"])
        self.check_whole(f"{photo_id} variant {STYLE}", data)
        with self.ledger.lock:
            self.ledger.variants[(photo_id, STYLE)] = digest(data)

    def work_delete(self, booth: Booth) -> None:
        live = self.ledger.live()
        if len(live) < 3:
            return self.work_upload(booth)
        photo_id = self.rng.choice(live)
        token = booth.csrf(f"/admin/delete/{photo_id}")
        with self.ledger.lock:
            self.ledger.deleting.add(photo_id)
        status, _, _ = booth.request(f"/admin/delete/{photo_id}", f"csrf={token}".encode(),
                                     {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 302:
            raise RuntimeError(f"delete refused: HTTP {status}")
        with self.ledger.lock:
            self.ledger.deleted.add(photo_id)
            self.ledger.deleting.discard(photo_id)

    def work_print(self, booth: Booth) -> None:
        live = self.ledger.live()
        if not live:
            return self.work_press(booth)
        token = booth.csrf("/admin")
        photo_id = self.rng.choice(live)
        status, _, _ = booth.request(f"/admin/print/{photo_id}", f"csrf={token}".encode(),
                                     {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 302:
            raise RuntimeError(f"print refused: HTTP {status}")
        time.sleep(1.5)  # the print thread lays the page out and hands it to CUPS

    def work_export(self, booth: Booth) -> None:
        status, data, _ = booth.request("/admin/photos.zip", timeout=60)
        if status != 200:
            raise RuntimeError(f"export: HTTP {status}")
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if archive.testzip() is not None:
                self.figures.add("photos served half-written", "export", "a damaged zip entry")
            for name in archive.namelist():
                self.check_whole(f"export {name}", archive.read(name))

    def poll(self, booth: Booth, status_url: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            booth.check_alive()
            status = booth.json(status_url)
            if status.get("state") == "done":
                return status
            if status.get("state") == "failed" or status["_status"] != 200:
                raise RuntimeError(f"{status_url}: {status}")
            time.sleep(0.05)
        raise RuntimeError(f"{status_url}: not done within {timeout} s")

    def acknowledge(self, booth: Booth, photo_id: str) -> None:
        """A photo the booth said is made: remembered at once, its files' hashes next."""
        with self.ledger.lock:
            hashes = self.ledger.photos.setdefault(photo_id, {})
        if booth.request(f"/p/{photo_id}")[0] != 200:
            raise RuntimeError(f"/p/{photo_id}: no page")
        for kind in ("anime", "thumb", "original"):
            status, data, _ = booth.request(f"/p/{photo_id}/{kind}.jpg")
            if status != 200:
                raise RuntimeError(f"{photo_id}/{kind}.jpg: HTTP {status}")
            self.check_whole(f"{photo_id} {kind}", data)
            hashes[kind] = digest(data)

    def check_whole(self, what: str, data: bytes) -> None:
        if not whole_jpeg(data):
            self.figures.add("photos served half-written", what, "does not decode whole")

    # --- after a cut ----------------------------------------------------------------------
    def check_index(self) -> None:
        """The index as the power cut left it passes SQLite's integrity check."""
        index = self.fs.mountpoint / "photos" / "index.sqlite3"
        if not index.exists():
            return
        try:
            db = sqlite3.connect(index, timeout=5)
            try:
                verdict = db.execute("PRAGMA integrity_check").fetchone()[0]
            finally:
                db.close()
        except sqlite3.Error as exc:
            verdict = str(exc)
        if verdict != "ok":
            self.figures.add("index failing its integrity check", "index.sqlite3", verdict)

    def verify(self, booth: Booth) -> None:
        """Every acknowledged photo is listed and on the disk with the bytes it had, its
        variants too; a few of them, and every photo new to the listing, are fetched as
        a guest would (page and files, decoded whole); deleted photos stay deleted;
        nothing unacknowledged left a trace."""
        served = self.served_ids(booth)
        with self.ledger.lock:
            # A delete cut before its answer may have happened or not; both are right.
            self.ledger.deleted |= self.ledger.deleting - served
            self.ledger.deleting.clear()
            deleted = set(self.ledger.deleted)
        for photo_id in sorted(served - set(self.ledger.photos)):  # listed: promised too
            self.acknowledge(booth, photo_id)
        with self.ledger.lock:
            live = {p: dict(h) for p, h in self.ledger.photos.items() if p not in deleted}
            variants = {k: v for k, v in self.ledger.variants.items() if k[0] not in deleted}
        for photo_id, hashes in live.items():
            self.figures.checks += 1
            if photo_id not in served:
                self.figures.add("acknowledged photos lost", photo_id, "not listed")
            for kind, sha in hashes.items():
                self.check_on_disk(f"{photo_id}/{kind}.jpg", sha)
        for (photo_id, style), sha in variants.items():
            self.check_on_disk(f"{photo_id}/variant-{style}.jpg", sha)
        for photo_id in self.rng.sample(sorted(live), min(self.args.fetch, len(live))):
            self.check_served(booth, photo_id, live[photo_id],
                              {s: v for (p, s), v in variants.items() if p == photo_id})
        for photo_id in deleted:
            if photo_id in served:
                self.figures.add("deleted photos back", photo_id, "listed after its delete")
            if (self.fs.backing / "photos" / photo_id).exists():
                self.figures.add("deleted photos back", photo_id, "its folder is left")
        for photo_id in self.rng.sample(sorted(deleted), min(self.args.fetch, len(deleted))):
            if booth.request(f"/p/{photo_id}")[0] != 404:
                self.figures.add("deleted photos back", photo_id, "its page is served after its delete")
        self.check_traces(served)

    def check_on_disk(self, name: str, sha: str) -> None:
        """The file as the power cut left it on the disk (the backing folder)."""
        try:
            data = (self.fs.backing / "photos" / name).read_bytes()
        except FileNotFoundError:
            self.figures.add("acknowledged photos lost", name.split("/")[0], f"{name} missing")
            return
        if sha and digest(data) != sha:
            self.figures.add("acknowledged photos lost", name.split("/")[0], f"{name}: other bytes than acknowledged"
                             + ("" if whole_jpeg(data) else ", not a whole JPEG"))

    def check_served(self, booth: Booth, photo_id: str, hashes: dict[str, str],
                     variants: dict[str, str]) -> None:
        """One photo as a guest gets it: its page, its files and variants, whole."""
        self.figures.fetched += 1
        if booth.request(f"/p/{photo_id}")[0] != 200:
            self.figures.add("acknowledged photos lost", photo_id, "no page")
        files = {f"{kind}.jpg": sha for kind, sha in hashes.items()}
        files.update({f"variant/{style}.jpg": sha for style, sha in variants.items()})
        for name, sha in files.items():
            status, data, _ = booth.request(f"/p/{photo_id}/{name}")
            if status != 200:
                self.figures.add("acknowledged photos lost", photo_id, f"{name}: HTTP {status}")
            elif not whole_jpeg(data):
                self.figures.add("photos served half-written", photo_id, f"{name} does not decode whole")
            elif sha and digest(data) != sha:
                self.figures.add("acknowledged photos lost", photo_id, f"{name}: other bytes than acknowledged")

    def served_ids(self, booth: Booth) -> set[str]:
        served: set[str] = set()
        while True:
            page = booth.json(f"/api/photos?limit=100&offset={len(served)}")
            if page["_status"] != 200:
                raise RuntimeError(f"/api/photos: HTTP {page['_status']}")
            served |= {p["id"] for p in page["photos"]}
            if len(served) >= page["total"] or not page["photos"]:
                return served

    def check_traces(self, served: set[str]) -> None:
        """On the disk (after the booth's repair): only listed photos' folders, no
        temporary file, no variant file the booth does not serve."""
        store = self.fs.backing / "photos"
        for entry in self.fs.backing.rglob("*"):
            if entry.name.endswith(".tmp") and "ov-cache" not in entry.parts:
                self.figures.add("traces of unacknowledged work", str(entry.relative_to(self.fs.backing)), "a temporary file")
        if not store.is_dir():
            return
        for folder in store.iterdir():
            if folder.is_dir() and folder.name not in served:
                self.figures.add("traces of unacknowledged work", folder.name, "a folder without a photo")

    # --- the whole run --------------------------------------------------------------------
    def run(self) -> None:
        started = time.monotonic()
        self.fs.mount()
        # OpenVINO's compile cache stays on the real disk: only the store is under test,
        # and a restart then loads the compiled networks in seconds.
        (self.fs.mountpoint / "ov-cache").symlink_to(self.args.ov_cache)
        booth = self.booth = Booth(self.work, self.fs.mountpoint, self.camera, self.env)
        # The first start compiles every network into an empty cache: minutes on a slow or
        # busy CPU, and not what the cuts are about, so their time budget starts after it.
        self.figures.normal_ready_s = booth.wait_for("READY=1", timeout=FIRST_START_S)
        print(f"    first start: ready after {self.figures.normal_ready_s:.0f} s (it compiles the "
              f"networks the cache lacks)", flush=True)
        started = time.monotonic()
        booth.follow_events()
        for work in ("press", "upload", "press", "restyle"):
            self.do_work(booth, work)
        self.cut(booth, Plan("a quiet moment"))
        plans = self.plans(self.args.cuts - 1)
        for number, plan in enumerate(plans, 1):
            if time.monotonic() - started > self.args.max_minutes * 60:
                self.problems.append(f"time budget of {self.args.max_minutes} min spent after "
                                     f"{number} cuts")
                break
            life_started = time.monotonic()
            self.life(plan)
            if self.args.verbose:
                print(f"    cut {number + 1}: {plan} ({time.monotonic() - life_started:.1f} s)", flush=True)
            if number % 20 == 0:
                print(f"    {number + 1} cuts, {len(self.ledger.photos)} photos acknowledged, "
                      f"{self.figures.failures} failures ({time.monotonic() - started:.0f} s)",
                      flush=True)
        self.last_check()
        self.report(time.monotonic() - started)

    def last_check(self) -> None:
        """After the last cut: start once more, check, and stop cleanly."""
        self.fs.mount()
        self.check_index()
        booth = self.booth = Booth(self.work, self.fs.mountpoint, self.camera, self.env)
        try:
            booth.wait_for("STATUS=loading the model")
            self.verify(booth)
            self.figures.ready_s.append(booth.wait_for("READY=1"))
        finally:
            booth.process.send_signal(signal.SIGTERM)
            try:
                booth.process.wait(20)
            finally:
                booth.kill()
                self.fs.unmount()

    def report(self, seconds: float) -> None:
        f = self.figures
        cuts = sum(f.cuts.values())
        ready = sorted(f.ready_s)
        print(f"power cuts: {cuts} in {seconds:.0f} s ({seconds / max(cuts, 1):.1f} s a cut, "
              f"restart included)")
        for where, count in sorted(f.cuts.items()):
            print(f"  {count:4d}  {where}")
        variants = len(self.ledger.variants)
        print(f"acknowledged photos checked: {f.checks} times after a cut, {f.fetched} of them also "
              f"over HTTP ({len(self.ledger.photos)} photos, {variants} variants, "
              f"{len(self.ledger.deleted)} deleted and checked gone)")
        if ready:
            median = ready[len(ready) // 2]
            print(f"ready again after a cut: median {median:.1f} s, longest {ready[-1]:.1f} s; the "
                  f"first start, on an empty store: {f.normal_ready_s:.1f} s (target: the median "
                  f"within 1.5x of it: {'met' if median <= 1.5 * f.normal_ready_s else 'NOT met'})")
        for finding, about in f.found.items():
            print(f"{finding}: {len(about)}"
                  + "".join(f"\n    {what}: {seen}" for what, seen in list(about.items())[:10]))
        for problem in self.problems[:20]:
            print(f"note: {problem}")
        print(f"{len(f.found[FINDINGS[0]])} acknowledged photos lost, "
              f"{len(f.found[FINDINGS[1]])} served half-written")


def demo_folder() -> Path:
    """The camera's and the phones' photos: the public test set's faces, else the demo photos."""
    for folder in (PROJECT / "weights" / "photos" / "faces", PROJECT / "weights" / "demo"):
        if folder.is_dir() and any(folder.glob("*.jpg")):
            return folder
    raise SystemExit("powercut: no photos in weights/photos/faces or weights/demo; run ./install.sh")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lazyfs", type=Path, required=True, help="the LazyFS binary")
    parser.add_argument("--cuts", type=int, default=200, help="power cuts (default 200)")
    parser.add_argument("--max-minutes", type=float, default=30,
                        help="stop cutting after this long (default 30)")
    parser.add_argument("--seed", type=int, default=33, help="the random instants' seed")
    parser.add_argument("--ov-cache", type=Path, default=Path("/var/cache/booth-powercut/ov-cache"),
                        help="OpenVINO's compile cache, on the real disk")
    parser.add_argument("--fetch", type=int, default=2,
                        help="acknowledged photos also fetched over HTTP after each cut (default 2; "
                             "all of them are checked on the disk)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--verbose", action="store_true", help="say each cut and its time")
    args = parser.parse_args()
    if args.cuts < 1:
        parser.error("--cuts must be at least 1")
    args.ov_cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="booth-powercut-", dir="/var/tmp"))
    print(f"==> {args.cuts} power cuts under `booth run --demo` on LazyFS (work folder {work})",
          flush=True)
    cups = None
    reason = unavailable_reason()
    if reason is None:
        try:
            cups = PrivateCups().__enter__()
        except (OSError, LookupError, RuntimeError, subprocess.SubprocessError) as exc:
            reason = f"the private CUPS did not start ({exc})"
    if reason is not None:
        print(f"    prints not exercised: {reason}")
    env = dict(os.environ, **({"CUPS_SERVER": str(cups.socket)} if cups else {}))
    (work / "booth.toml").write_text(BOOTH_CONFIG.format(
        print_enabled="true" if cups else "false", printer=cups.queue if cups else ""))
    driver = Driver(args, work, env)
    try:
        driver.run()
    finally:
        if driver.booth is not None and driver.booth.process.poll() is None:
            driver.booth.kill()
        if driver.fs.alive() or os.path.ismount(driver.fs.mountpoint):
            driver.fs.unmount()
        if cups is not None:
            cups.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if driver.figures.failures else 0


if __name__ == "__main__":
    sys.exit(main())
