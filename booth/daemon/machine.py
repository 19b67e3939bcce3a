"""The booth daemon: the guest's cycle as an explicit state machine.

The states and where each may go are the table in :mod:`booth.daemon.states` (with the
diagram); :class:`CycleMachine` does each state's work, one handler per state, and moves
on by that table. What a photo is made with is :mod:`booth.daemon.making`; what the web
app and the button call is :class:`booth.daemon.booth.Booth`.

* Processing runs on the maker's worker thread (:mod:`booth.daemon.making`). Between
  cycles (idle, result, failsafe) the main loop makes the pictures phones asked for
  (:mod:`booth.daemon.pictures`); a press goes before them.
* One log line per cycle with its press-to-result time and each stage's time.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from booth import config
from booth.daemon import choices, sdnotify
from booth.daemon.events import EventBus
from booth.daemon.making import MESSAGES, MODEL_LOADING, CycleFailed, PhotoMaker
from booth.daemon.metrics import CycleCounters
from booth.daemon.pictures import PhonePictures
from booth.daemon.states import LED, RESTING, RULES, Cycle, State, check_transition
from booth.daemon.store import Photo, PhotoStore
from booth.devices.camera import CameraSupervisor
from booth.devices.printing import PrintService
from booth.errors import CameraError
from booth.vision import boomerang
from booth.vision.images import resize_long_side

if TYPE_CHECKING:
    from booth.devices.button import BoothButton

log = logging.getLogger("booth")

#: The main loop wakes at least this often (watchdog pings, timers, health).
TICK_S = 0.25
#: A strip keeps each shot's camera frame this large (long side): enough to render the
#: shot again in another style, a fraction of a full-resolution frame's size.
SHOT_ORIGINAL_LONG_SIDE = 2048


class CycleMachine:
    """The guest's cycle: the main loop, one handler per state (:data:`HANDLERS`), and
    the presses it takes. :class:`booth.daemon.booth.Booth` builds it with its parts."""

    def __init__(self, settings: config.Settings, *, camera: CameraSupervisor, store: PhotoStore,
                 events: EventBus, counters: CycleCounters, maker: PhotoMaker, pictures: PhonePictures,
                 prints: PrintService | None, between_photos: threading.Event,
                 stopping: threading.Event) -> None:
        self.settings = settings
        self.camera = camera
        self.store = store
        self.events = events
        self.counters = counters
        self.maker = maker
        self.pictures = pictures
        self.prints = prints
        #: Set except while a photo is being made (see :meth:`_making_photo`).
        self.between_photos = between_photos
        self.button: BoothButton | None = None  # attached by attach_button()
        self.state = State.IDLE
        # Guards the state, the waiting press and the running cycle together, so a
        # press sees them consistent; the main loop waits on it for work.
        self._cond = threading.Condition()
        self._pending: str | None = None  # the source of an accepted press, until the loop takes it
        self._cycle: Cycle | None = None  # from the press taken to the result or failsafe
        self._cancel = threading.Event()
        self._stopping = stopping  # set by stop(): the loop ends after the running cycle
        self._until = 0.0  # monotonic time the result / failsafe screen ends
        self._answer: str | None = None  # the guest's answer to the consent question
        self._shown: str | None = None  # the photo on the result screen
        #: Monotonic time the countdown ends (the mirror stops a frame before it).
        self.capture_due: float | None = None
        #: The style the next press uses (the guest's choice at the kiosk).
        self.style = settings.styles.default
        #: What the next press makes ([cycle] modes; the guest's choice at the kiosk).
        self.mode = settings.cycle.modes[0]
        #: A strip's shots as JPEG for the kiosk (index -> bytes), this cycle's only.
        self.shot_jpegs: dict[int, bytes] = {}

    # --- the web app's and the button's API -----------------------------------------
    def trigger(self, source: str = "http") -> bool:
        """Start a cycle; False (and counted) while one is running or the booth cannot
        take a photo (model warming up or missing, camera down). While the result
        screen offers Print (``[print] mode = "ask"``), the press prints instead."""
        if self.state == State.RESULT and self.prints is not None and self.prints.accept_offer():
            return True
        if self._answer_consent("yes"):
            return True
        not_ready = self.not_ready()
        with self._cond:
            # A press during an upload's processing (screen idle) waits for it: accepted.
            busy = not self.between_cycles()
            refused = busy or not_ready is not None
            if refused:
                count = self.counters.press_ignored()
            else:
                self._pending = source
                self._cond.notify_all()
        if refused:
            # The kiosk says why in a short toast; no countdown for a photo that cannot be made.
            self.events.publish("press_ignored", count=count, reason="busy" if busy else not_ready)
            return False
        return True

    def between_cycles(self) -> bool:
        """No press waits, no cycle runs, and the screen takes a press (idle or result)."""
        return (self._pending is None and self._cycle is None and not self._stopping.is_set()
                and self.state in (State.IDLE, State.RESULT))

    def not_ready(self) -> str | None:
        """Why a press cannot make a photo now: "warming" (the model is loading), "model"
        (it failed to load), "stuck" (a model call given up on has not returned),
        "camera" (it failed and is not back yet), "disk" (full); None when ready."""
        if self.maker.pipeline is None:
            return "warming" if self.maker.model_message == MODEL_LOADING else "model"
        if self.maker.stuck():
            return "stuck"
        # A camera that has never been opened yet is tried at capture; one that failed
        # stays "down" until the supervisor has it open again.
        if not self.camera.ok and self.camera.failures:
            return "camera"
        if not self.store.has_room():
            return "disk"
        return None

    def cancel(self) -> bool:
        """The button held down: no to the consent question, or cancel a running
        countdown; True if there was either."""
        if self._answer_consent("no"):
            return True
        if self.state == State.COUNTDOWN:
            self._cancel.set()
            return True
        return False

    def decline(self) -> bool:
        """The button held at the consent question: no (nothing is taken); False when
        nothing is asked."""
        return self._answer_consent("no")

    def _answer_consent(self, answer: str) -> bool:
        """Take the guest's answer while the consent state asks; False otherwise."""
        with self._cond:
            if self.state != State.CONSENT or self._answer is not None:
                return False
            self._answer = answer
            self._cond.notify_all()
        return True

    def take_choice(self, what: str, available: list[str], name: str | None, step: int) -> str | None:
        """Set the guest's choice ``what`` ("style" or "mode": the attribute) to ``name``,
        or ``step`` places along ``available``; None while a photo is being made (refused)."""
        with self._cond:
            if not self.between_cycles():
                return None
            name = choices.pick(what, available, getattr(self, what), name, step)
            setattr(self, what, name)
        return name

    def photo_gone(self, photo_id: str) -> None:
        """A deleted photo leaves the result screen (the main loop goes back to idle)."""
        with self._cond:
            if self.state == State.RESULT and self._shown == photo_id:
                self._until = 0.0
                self._cond.notify_all()

    def wake(self) -> None:
        """Wake the main loop: there is work."""
        with self._cond:
            self._cond.notify_all()

    def attach_button(self, button) -> None:
        self.button = button
        self._set_led(LED.get(self.state, "off"))

    # --- the main loop (run by booth.daemon.booth.Booth) -------------------------------
    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def request_stop(self) -> None:
        """Ask the loop to end (it finishes or abandons the running cycle first)."""
        self._stopping.set()
        self.wake()

    def run(self) -> None:
        """The main loop: one turn of the current state's handler at a time, until
        :meth:`request_stop` (a running cycle is finished or abandoned first)."""
        self._announce(State.IDLE)
        while not self._stopping.is_set() or self._cycle is not None:
            self.tick()
            self._turn()
        self.maker.stop(0.5)
        self._set_led("off")

    def _turn(self) -> None:
        """One turn of the current state; a failing cycle ends in failsafe."""
        try:
            self.HANDLERS[self.state](self)
        except Exception as exc:
            if self._cycle is None:
                raise  # not a guest's cycle: a bug in the loop itself
            if isinstance(exc, CycleFailed):
                self._cycle_failed(exc.reason, str(exc))
            else:  # anything else: the guest still gets a friendly screen
                log.exception("cycle: unexpected error")
                self._cycle_failed("error", f"{type(exc).__name__}: {exc}")

    # --- one method per state ------------------------------------------------------
    def _idle(self) -> None:
        """Idle, for as long as nobody presses: a press starts a cycle; meanwhile the
        phones' pictures are made (one shown on the kiosk moves to result)."""
        self._take_press_or_picture()

    def _consent(self) -> None:
        """Consent: the kiosk asks; a press goes on to the countdown. Holding the button,
        no answer within ``[privacy] ask_timeout_s`` or shutting down: idle, no picture."""
        with self._cond:
            if self._answer is None and not self._stopping.is_set():
                self._cond.wait(min(TICK_S, max(0.0, self._until - time.monotonic())))
            answer = self._answer
        if answer == "yes" and not self._stopping.is_set():
            self.maker.check_ready()
            self._start_countdown()
        elif answer == "no" or self._stopping.is_set() or time.monotonic() >= self._until:
            log.info("no photo: the guest %s", "said no" if answer == "no" else "did not answer")
            self._enter(State.IDLE, declined=answer or "timeout")

    def _countdown(self) -> None:
        """Countdown: one second per number announced, then capture. Holding the button
        (or shutting down) goes back to idle."""
        cycle = self._current()
        if not self._wait(1.0, cancel=True):
            self._enter(State.IDLE)
            if self._cancel.is_set():
                log.info("cycle cancelled during the countdown (%s)", cycle.source)
            return
        cycle.seconds_left -= 1
        if cycle.seconds_left > 0:
            self._enter(State.COUNTDOWN, seconds_left=cycle.seconds_left)
        else:
            self._begin_capture()

    def _capture(self) -> None:
        """Capture: the camera's still (a camera that fails or hangs past
        ``[camera] capture_timeout_s`` ends in failsafe), then process."""
        cycle = self._current()
        try:
            cycle.frame = self.camera.capture()
        except CameraError as exc:
            raise CycleFailed("camera", str(exc)) from None
        cycle.timings_ms["capture"] = (time.monotonic() - cycle.smile) * 1e3
        if cycle.mode != "strip":
            self._enter(State.PROCESS)
            return
        cycle.last_taken = time.monotonic()
        index = len(cycle.shots)
        # A shot fills a 540 px cell: a 12 MP frame waiting on the worker would only take memory.
        frame = resize_long_side(cycle.frame, SHOT_ORIGINAL_LONG_SIDE)
        cycle.shots.append(self.maker.stylize_shot(frame, index, cycle.style, self.shot_jpegs))
        cycle.frame = None
        self.events.publish("shot", index=index, shots=self.settings.cycle.strip_shots, stage="taken")
        if len(cycle.shots) < self.settings.cycle.strip_shots:
            self._making_photo(False)  # the guest poses again: the preview comes back
            self._until = time.monotonic() + self._time_limit_s(State.SHOT)
            self._enter(State.SHOT, **self._mode_data(), taken=len(cycle.shots))
        else:
            self._enter(State.PROCESS, **self._mode_data())

    def _shot(self) -> None:
        """A strip's shot on screen for a moment (it is being stylized meanwhile), then
        the next shot's countdown; shutting down drops the shots: idle."""
        if not self._wait(max(0.0, self._until - time.monotonic())):
            self._enter(State.IDLE)
            return
        self._start_countdown()

    def _burst(self) -> None:
        """Burst: the camera's video stream for about BURST_S, each frame stylized on the
        worker as it comes (a camera that fails or hangs ends in failsafe); then process."""
        cycle = self._current()
        cycle.burst = self.maker.burst()
        try:
            self.camera.burst(boomerang.BURST_FRAMES, boomerang.burst_fps(), cycle.burst.add)
        except CameraError as exc:
            raise CycleFailed("camera", str(exc)) from None
        cycle.last_taken = time.monotonic()
        cycle.timings_ms["burst"] = (cycle.last_taken - cycle.smile) * 1e3
        self._enter(State.PROCESS, mode=cycle.mode)

    def _process(self) -> None:
        """Process: faces, generator and store on the worker within
        ``[cycle] process_timeout_s``, then result (failsafe on failure)."""
        cycle = self._current()
        if cycle.mode == "strip":
            photo, generator_ms, stage_ms = self.maker.run_job(self.maker.store_strip, cycle.shots, cycle.style)
        elif cycle.mode == "boomerang":
            photo, generator_ms, stage_ms = self.maker.run_job(self.maker.store_boomerang, cycle.burst)
        else:
            assert cycle.frame is not None, "a photo's process without its capture"
            photo, result, stage_ms = self.maker.make_photo(cycle.frame, "booth", cycle.style)
            generator_ms = float(result.timings_ms.get("generator", 0.0))
        cycle.frame = None
        cycle.timings_ms.update(stage_ms)
        published = time.monotonic()
        self._show_result(photo.id, "booth", cycle.mode)
        cycle.timings_ms["publish"] = (time.monotonic() - published) * 1e3
        if cycle.last_taken:  # a strip's or a boomerang's: ready this long after the last picture
            cycle.timings_ms["ready_after_last"] = (time.monotonic() - cycle.last_taken) * 1e3
        self._cycle_done(cycle, photo, generator_ms)

    def _screen(self) -> None:
        """Result, for ``[cycle] show_result_s`` (a press starts the next cycle), or
        failsafe, for ``[cycle] failsafe_s`` (the guest's message; presses are refused):
        the phones' pictures are made meanwhile; then idle."""
        self._take_press_or_picture()
        self._leave_on_time()

    HANDLERS = {State.IDLE: _idle, State.CONSENT: _consent, State.COUNTDOWN: _countdown, State.CAPTURE: _capture,
                State.SHOT: _shot, State.BURST: _burst,
                State.PROCESS: _process, State.RESULT: _screen, State.FAILSAFE: _screen}

    def _leave_on_time(self) -> None:
        # On time, even while uploads keep coming (a new result has a new end). Only from
        # the screen that timed out: a press taken in this same turn has already moved on
        # to a new cycle, whose first state must not inherit the old screen's end.
        if self.state in (State.RESULT, State.FAILSAFE) and time.monotonic() >= self._until:
            self._enter(RULES[self.state].time_up or State.IDLE)

    def _time_limit_s(self, state: State) -> float:
        return RULES[state].limit_s(self.settings)

    def _take_press_or_picture(self) -> None:
        """Wait a tick for a press or a queued picture; start the cycle, or make the picture."""
        # The phones' pictures wait while a model call is stuck (see MODEL_STUCK).
        pictures = not self.maker.stuck()
        with self._cond:
            if self._pending is None and not (pictures and self.pictures.queue.has_waiting()):
                self._cond.wait(TICK_S)
            if self._stopping.is_set():
                return
            source, self._pending = self._pending, None
            # Pictures wait whenever a press does: a busy button never starves the
            # phones (they run on the result and error screens too), and a press
            # waits for one picture at most.
            job = self.pictures.queue.take() if source is None and pictures else None
            if source is not None:  # under the lock: no second press slips in before it
                self._cycle = Cycle(source, time.monotonic(), mode=self.mode, style=self.style)
        if source is not None:
            self._start_cycle()
        elif job is not None:
            self.pictures.make(job[0], job[1], show=self._show_upload)

    def _start_cycle(self) -> None:
        self._cancel.clear()
        self.maker.check_ready()
        if self._current().mode == "strip":
            self.shot_jpegs = {}
        if self.settings.privacy.consent == "ask":
            self._ask_consent()
        else:
            self._start_countdown()

    def _ask_consent(self) -> None:
        with self._cond:
            self._answer = None
        shown_s = self._time_limit_s(State.CONSENT)
        self._until = time.monotonic() + shown_s
        self._enter(State.CONSENT, until=time.time() + shown_s, **self._mode_data())

    def _start_countdown(self) -> None:
        """The countdown to the next picture (a strip's next shot too), or the picture now."""
        countdown_s = int(self._time_limit_s(State.COUNTDOWN))
        self.capture_due = time.monotonic() + countdown_s
        if countdown_s > 0:
            self._current().seconds_left = countdown_s
            self._enter(State.COUNTDOWN, seconds_left=countdown_s, **self._mode_data())
        else:
            self._begin_capture()

    def _begin_capture(self) -> None:
        cycle = self._current()
        if not cycle.smile:  # press-to-result counts from the first picture (countdown excluded)
            cycle.smile = time.monotonic()
        self._making_photo(True)
        if cycle.mode == "boomerang":
            self._enter(State.BURST, mode=cycle.mode, seconds=boomerang.BURST_S)
        else:
            self._enter(State.CAPTURE, **self._mode_data())

    def _mode_data(self) -> dict[str, object]:
        return self._current().mode_data(self.settings.cycle.strip_shots)

    def _current(self) -> Cycle:
        assert self._cycle is not None, "a cycle's state without a cycle"
        return self._cycle

    # --- moving between states -------------------------------------------------------
    def _enter(self, state: State, **data) -> None:
        """Move to ``state`` (a move :data:`RULES` allows, else :class:`InvalidTransition`)."""
        check_transition(self.state, state)
        self._announce(state, **data)

    def _announce(self, state: State, **data) -> None:
        """Be in ``state``: publish it, tell systemd, set the LED. A state between cycles
        ends the cycle (the next press is taken from then on)."""
        with self._cond:
            self.state = state
            ended = state in RESTING and self._cycle is not None
            if ended:
                self._cycle = None
        if ended:
            self._end_cycle()
        self._set_led(LED.get(state, "off"))
        self.events.publish("state", state=state.value, **data)
        detail = data.get("seconds_left") or data.get("photo_id") or data.get("message") or ""
        sdnotify.notify(f"STATUS={state}{': ' if detail else ''}{detail}")
        log.debug("state=%s %s", state, data or "")

    def _end_cycle(self) -> None:
        self.capture_due = None
        self._making_photo(False)

    def tick(self) -> None:
        """Called every loop turn and during waits (the booth pings systemd's watchdog)."""

    def _wait(self, seconds: float, *, cancel: bool = False) -> bool:
        """Sleep while ticking; False if stopping (or, with ``cancel``, cancelled)."""
        end = time.monotonic() + seconds
        while True:
            if self._stopping.is_set() or (cancel and self._cancel.is_set()):
                return False
            left = end - time.monotonic()
            if left <= 0:
                return True
            self.tick()
            self._stopping.wait(min(left, TICK_S, 0.05 if cancel else TICK_S))

    def _set_led(self, mode: str) -> None:
        if self.button is not None:
            try:
                self.button.set_led(mode)
            except Exception as exc:  # an LED is never worth a failed cycle
                log.warning("led: %s", exc)

    # --- the photo -------------------------------------------------------------------
    def _making_photo(self, making: bool) -> None:
        """Mark the stretch from capture to result (see :attr:`between_photos`)."""
        self.camera.preview_enabled = not making
        if making:
            self.between_photos.clear()
        else:
            self.between_photos.set()

    def _show_result(self, photo_id: str, source: str, mode: str = "photo") -> None:
        self.events.publish("photo", photo_id=photo_id, source=source, mode=mode)
        shown_s = self._time_limit_s(State.RESULT)
        self._until = time.monotonic() + shown_s
        self._shown = photo_id
        self._enter(State.RESULT, photo_id=photo_id, source=source, mode=mode,
                    until=time.time() + shown_s)
        if self.prints is not None:  # only the guest at the booth is offered a print
            if source == "booth":
                self.prints.photo_shown(photo_id)
            else:
                self.prints.withdraw_offer()

    def _show_upload(self, photo_id: str) -> bool:
        """An upload on the kiosk's result screen, unless a guest is using the booth."""
        if self.state != State.IDLE:
            return False
        self._show_result(photo_id, "upload")
        return True

    def _cycle_done(self, cycle: Cycle, photo: Photo, generator_ms: float) -> None:
        press_to_result = (time.monotonic() - cycle.smile) * 1e3
        self.counters.cycle_ok(photo.id, press_to_result, generator_ms)
        stages = " ".join(f"{k}={v:.0f}" for k, v in cycle.timings_ms.items())
        log.info("cycle ok photo=%s mode=%s source=%s size=%s faces=%d press_to_result_ms=%.0f %s",
                 photo.id, cycle.mode, cycle.source, photo.size, photo.faces, press_to_result, stages)

    def _cycle_failed(self, reason: str, detail: str) -> None:
        cycle = self._current()
        self.counters.cycle_failed(reason)
        log.warning("cycle failed source=%s reason=%s after_ms=%.0f: %s", cycle.source, reason,
                    (time.monotonic() - cycle.pressed) * 1e3, detail)
        if self._stopping.is_set():  # nobody is left to read the message
            with self._cond:
                self._cycle = None
            self._end_cycle()
            return
        shown_s = self._time_limit_s(State.FAILSAFE)
        self._until = time.monotonic() + shown_s
        self._enter(State.FAILSAFE, message=MESSAGES[reason], until=time.time() + shown_s)
