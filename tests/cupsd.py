"""A private, real CUPS for the print tests: its own cupsd, config, spool and socket.

Debian's ``cups`` and ``printer-driver-cups-pdf`` (``./install.sh --test``) provide
the scheduler and a PDF printer: a real CUPS queue whose "paper" is a PDF file. The
scheduler here is started by the test itself (no system service): its files live in
a temporary folder, it listens only on a Unix socket there, and clients find it
through ``CUPS_SERVER``. cups-pdf reads its settings from
``/etc/cups/cups-pdf-<name>.conf`` (the path is built into it); one such file,
pointing the PDFs into the temporary folder, exists while the scheduler runs.

cupsd must start as root (it runs its filters as the ``lp`` user); elsewhere the
tests are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CUPSD = "/usr/sbin/cupsd"
CUPS_PDF_BACKEND = "/usr/lib/cups/backend/cups-pdf"
CUPS_PDF_PPD = "/usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd"


def unavailable_reason() -> str | None:
    """Why a private cupsd cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "a private cupsd needs root (it runs its filters as the lp user)"
    for path, package in ((CUPSD, "cups"), (CUPS_PDF_BACKEND, "printer-driver-cups-pdf"),
                          (CUPS_PDF_PPD, "printer-driver-cups-pdf"),
                          ("/usr/bin/pdftoppm", "poppler-utils")):
        if not os.path.exists(path):
            return f"{path} missing: apt-get install {package} (./install.sh --test does)"
    return None


class PrivateCups:
    """``with PrivateCups() as cups:`` a running cupsd with one PDF queue, ``cups.queue``."""

    def __init__(self, queue: str = "BoothPDF") -> None:
        self.queue = queue
        self.root = Path(tempfile.mkdtemp(prefix="booth-cups-"))
        self.pdf_dir = self.root / "pdf"
        self.socket = self.root / "cups.sock"
        self.tag = f"booth-test-{os.getpid()}"
        self.cups_pdf_conf = Path(f"/etc/cups/cups-pdf-{self.tag}.conf")
        self.env = dict(os.environ, CUPS_SERVER=str(self.socket), LC_ALL="C")
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> "PrivateCups":
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> None:
        conf = self.root / "conf"
        for name in ("conf", "spool", "cache", "state", "log", "pdf", "tmp"):
            (self.root / name).mkdir()
        # The filters run as lp: they need to reach the spool and write temporary files.
        os.chmod(self.root, 0o755)
        os.chmod(self.root / "tmp", 0o1777)
        shutil.chown(self.root / "spool", group="lp")
        os.chmod(self.root / "spool", 0o770)
        (conf / "cupsd.conf").write_text(
            f"Listen {self.socket}\nLogLevel debug\nWebInterface No\nBrowsing No\n"
            "DefaultAuthType None\nMaxJobs 0\nPreserveJobHistory Yes\n"
            # The queue is on disk at once, so a scheduler stopped and started keeps it.
            "DirtyCleanInterval 0\n"
            "<Location />\n  Order allow,deny\n  Allow all\n</Location>\n"
            "<Policy default>\n  <Limit All>\n    Order deny,allow\n  </Limit>\n</Policy>\n")
        (conf / "cups-files.conf").write_text(
            f"ServerRoot {conf}\nRequestRoot {self.root / 'spool'}\nCacheDir {self.root / 'cache'}\n"
            f"StateDir {self.root / 'state'}\nTempDir {self.root / 'tmp'}\n"
            f"AccessLog {self.root / 'log/access_log'}\nErrorLog {self.root / 'log/error_log'}\n"
            f"PageLog {self.root / 'log/page_log'}\nUser lp\nGroup lp\n")
        self.cups_pdf_conf.write_text(f"Out {self.pdf_dir}\nAnonDirName {self.pdf_dir}\n"
                                      "Label 1\nGrp root\n")
        self.start_scheduler()
        self.run("lpadmin", "-p", self.queue, "-E", "-v", f"cups-pdf:/{self.tag}", "-P", CUPS_PDF_PPD)

    def start_scheduler(self) -> None:
        """Run cupsd (again, after :meth:`stop_scheduler`: same queue, same spool)."""
        conf = self.root / "conf"
        self._process = subprocess.Popen(
            [CUPSD, "-f", "-c", str(conf / "cupsd.conf"), "-s", str(conf / "cups-files.conf")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while "scheduler is running" not in self.run("lpstat", "-r", check=False).stdout:
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"cupsd did not start: {self.log_tail()}")
            time.sleep(0.1)

    def stop_scheduler(self) -> None:
        """Stop cupsd as a crash or a reboot of CUPS would (its files stay)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """A CUPS command against this scheduler."""
        done = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=30)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
        return done

    def pdfs(self) -> list[Path]:
        return sorted(self.pdf_dir.glob("*.pdf"))

    def wait_for_pdf(self, name_part: str, timeout: float = 60) -> Path:
        """The PDF cups-pdf wrote for a job whose title contains ``name_part``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [p for p in self.pdfs() if name_part in p.name]
            if found and found[0].stat().st_size > 0:
                time.sleep(0.3)  # cups-pdf closes the file right after the last write
                return found[0]
            time.sleep(0.2)
        raise AssertionError(f"no PDF for {name_part} within {timeout} s; have "
                             f"{[p.name for p in self.pdfs()]}; log: {self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        try:
            return " | ".join((self.root / "log/error_log").read_text().splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def close(self) -> None:
        self.stop_scheduler()
        self.cups_pdf_conf.unlink(missing_ok=True)
        shutil.rmtree(self.root, ignore_errors=True)
