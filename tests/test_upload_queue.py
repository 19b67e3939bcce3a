"""The one owner of the phones' pictures waiting for the booth (:class:`UploadQueue`):
admission from many threads at once never lets a phone past ``queue_max`` or everybody
past ``queue_total``; a status read never sees a ticket half-updated; first come,
first made; finished tickets are forgotten, waiting ones never."""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest

from booth.daemon import queue as upload_queue
from booth.daemon.queue import Restyle, UploadQueue
from booth.errors import UploadRefused
from booth.vision.images import load_image

from boothkit import QuickPipeline, make_booth, settings_for


@pytest.fixture
def fast_switching():
    """Threads switch every few microseconds, so races show in a short test."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


@pytest.fixture
def slow_tickets(monkeypatch):
    """Tickets that let other threads run between two of their fields being written:
    the real queue, with the window a missing lock would leave open made wide."""

    class SlowTicket(upload_queue.Ticket):
        def __setattr__(self, name, value):
            super().__setattr__(name, value)
            time.sleep(0)

    monkeypatch.setattr(upload_queue, "Ticket", SlowTicket)


def put_from_threads(put, clients: list[str], tries: int = 25) -> tuple[list[str], int]:
    """Every client's thread puts ``tries`` times at once; (tickets, refusals)."""
    tickets: list[str] = []
    refused = [0]
    lock = threading.Lock()
    start = threading.Barrier(len(clients))

    def send(client: str) -> None:
        start.wait()
        for _ in range(tries):
            try:
                ticket = put(client)
            except UploadRefused:
                with lock:
                    refused[0] += 1
            else:
                with lock:
                    tickets.append(ticket)

    threads = [threading.Thread(target=send, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tickets, refused[0]


def test_concurrent_admission_never_exceeds_the_per_phone_limit(fast_switching, slow_tickets):
    q = UploadQueue(per_client=3, total=100)
    picture = np.zeros((4, 4, 3), np.uint8)
    tickets, refused = put_from_threads(lambda c: q.put(c, picture), ["10.0.0.7"] * 16)
    assert len(tickets) == 3 and refused == 16 * 25 - 3
    assert q.waiting("10.0.0.7") == (3, 3)
    assert q.in_the_way("10.0.0.7") == (3, True)


def test_concurrent_admission_never_exceeds_the_total(fast_switching, slow_tickets):
    q = UploadQueue(per_client=3, total=10)
    clients = [f"10.0.0.{n}" for n in range(12)]
    tickets, _ = put_from_threads(lambda c: q.put(c, Restyle("p", "cute")), clients)
    assert len(tickets) == 10 and q.waiting("10.0.0.1")[1] == 10
    assert q.in_the_way("10.0.0.99") == (10, False)
    with pytest.raises(UploadRefused, match="busy with 10 pictures waiting"):
        q.put("10.0.0.99", Restyle("p", "cute"))


def test_a_real_booths_submissions_from_threads_keep_queue_max(tmp_path, photos, fast_switching,
                                                              slow_tickets):
    booth = make_booth(settings_for(tmp_path, photos / "faces"), QuickPipeline())  # not started
    try:
        rgb = load_image(next((photos / "faces").glob("*.jpg")))
        tickets, _ = put_from_threads(lambda c: booth.submit_upload(rgb, c), ["10.0.0.7"] * 8, tries=5)
        assert len(tickets) == booth.settings.upload.queue_max
        assert all(booth.upload_status(t)["state"] == "queued" for t in tickets)
    finally:
        booth.camera.close()
        booth.store.close()


def test_a_status_read_never_sees_a_half_updated_ticket(fast_switching, slow_tickets):
    q = UploadQueue(per_client=10_000, total=10_000)
    for n in range(1000):
        q.put("phone", np.zeros(1) if n % 2 else Restyle(f"photo{n}", "cute"))
    current: list[str | None] = [None]  # the ticket being finished: the readers watch it
    done = threading.Event()
    seen: list[str] = []

    def make_them() -> None:
        while (taken := q.take()) is not None:
            ticket, job = taken
            current[0] = ticket
            if not isinstance(job, Restyle):
                q.finish(ticket, photo_id=f"id-{ticket}")
            elif len(seen) % 2:
                q.finish(ticket)
            else:
                q.fail(ticket, "That took too long.")
        done.set()

    def read_them() -> None:
        while not done.is_set():
            ticket = current[0]
            if ticket is None:
                continue
            status = q.upload_status(ticket) or q.restyle_status(ticket)
            if "style" not in status:  # an upload is done exactly when its photo is there
                if (status["state"] == "done") != (status["photo_id"] == f"id-{ticket}"):
                    seen.append(f"{ticket}: {status}")
            elif (status["state"] == "failed") != bool(status["message"]):
                seen.append(f"{ticket}: {status}")

    readers = [threading.Thread(target=read_them) for _ in range(3)]
    for r in readers:
        r.start()
    make_them()
    for r in readers:
        r.join()
    assert seen == []


def test_first_come_first_made_and_a_running_picture_holds_no_place():
    q = UploadQueue(per_client=2, total=5)
    first = q.put("a", Restyle("p", "cute"))
    second = q.put("a", Restyle("p", "shinkai"))
    upload = q.put("b", np.zeros(1))
    assert q.restyle_status(second)["ahead"] == 1
    assert q.take()[0] == first
    assert q.restyle_status(first)["state"] == "running"
    assert q.restyle_status(second)["ahead"] == 0
    third = q.put("a", Restyle("p", "hayao"))  # the running one no longer counts
    with pytest.raises(UploadRefused, match="you already have 2 pictures waiting"):
        q.put("a", Restyle("p", "whitebox"))
    assert [q.take()[0] for _ in range(3)] == [second, upload, third]
    assert q.upload_status(upload)["state"] == "queued"  # a phone's page knows no "running"
    assert q.take() is None
    assert q.upload_status(first) is None and q.restyle_status(upload) is None  # each its own kind


def test_finished_tickets_are_forgotten_first_and_unfinished_ones_never(monkeypatch):
    monkeypatch.setattr(upload_queue, "KEEP_TICKETS", 5)
    q = UploadQueue(per_client=100, total=100)
    running = q.put("a", np.zeros(1))
    assert q.take()[0] == running  # being made, never finished in this test
    finished = [q.put("b", np.zeros(1)) for _ in range(6)]
    for _ in finished:
        ticket, _ = q.take()
        q.finish(ticket, "x")
    latest = q.put("c", np.zeros(1))
    remembered = [t for t in [running, *finished, latest] if q.upload_status(t) is not None]
    assert remembered == [running, *finished[-3:], latest]  # the oldest finished went first
