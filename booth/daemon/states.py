"""The states of the guest's cycle and the rules between them: the state table.

One cycle, every state with a time limit, every transition published on the event
bus (the kiosk and the gallery follow it through server-sent events)::

    idle ──press──▶ countdown ──▶ capture ──▶ process ──▶ result ──(show_result_s)──▶ idle
      │               │ hold   ▲    │ camera      │ model / disk / timeout
      │ [privacy]     ▼ cancel │    ▼ fails       ▼ fails
      │ consent=ask  idle      │  failsafe ──(failsafe_s)──▶ idle
      │                        └─ shot ◀─┘  (a strip: the next shot's countdown)
      │             countdown ──▶ burst ──▶ process     (a boomerang)
      ▼        press (yes)
    consent ─────────────▶ countdown (or burst)
      │ hold (no), or no answer within ask_timeout_s: nothing is taken
      ▼
     idle

The guest picks what a press makes (:attr:`booth.daemon.machine.CycleMachine.mode`,
``[cycle] modes``): a **photo**; a **strip** of ``[cycle] strip_shots`` shots, each with its own countdown,
each stylized on the worker while the next countdown runs (the kiosk shows each as it
lands), composed and stored as one item in ``process``; or a **boomerang**, a burst
from the camera's video stream stylized frame by frame as it comes in, played there and
back and encoded in ``process``. Whatever fails before the store's commit leaves nothing:
the shots and frames live only in the cycle.

:class:`State` names the states (their values are the strings the events, the
health JSON and the kiosk use); :data:`RULES` says where each may go (every other
move raises :class:`InvalidTransition`), how long it lasts at most and where it goes
when its time is up. Each state has one handler on
:class:`booth.daemon.machine.CycleMachine` (its ``HANDLERS``) that does the state's work for
one turn of the main loop and moves on when it is done.

* With ``[privacy] consent = "ask"`` a press first asks (the consent state): a
  second press is yes, holding the button
  (:meth:`booth.daemon.machine.CycleMachine.cancel`) or no answer is no, and no
  picture is taken.
* A press while a cycle runs (countdown, capture, process, failsafe) is ignored and
  counted; a press while a result is shown starts the next cycle. A press the booth
  cannot honour (model still loading or missing, camera down, disk full) starts no
  countdown: it is refused with its reason
  (:meth:`booth.daemon.machine.CycleMachine.not_ready`), which the kiosk turns into a
  short, polite toast.
* A cycle given up on (timeout, shutdown) never publishes its late photo.
* Any exception, a camera that hangs, a model call slower than
  ``[cycle] process_timeout_s``, a full disk: the **failsafe** state shows a friendly
  message and the booth returns to idle by itself.
"""

from __future__ import annotations

import enum
import math
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from booth import config
from booth.daemon.making import Burst
from booth.vision import boomerang

#: How long the kiosk shows a strip's shot as it lands before the next countdown.
SHOT_SHOWN_S = 1.0


class State(enum.StrEnum):
    """The states of the cycle; each value is the string the events and /healthz carry."""

    IDLE = "idle"
    CONSENT = "consent"
    COUNTDOWN = "countdown"
    CAPTURE = "capture"
    PROCESS = "process"
    RESULT = "result"
    FAILSAFE = "failsafe"
    SHOT = "shot"     # a strip's shot landed; the next countdown follows
    BURST = "burst"   # a boomerang's burst is being recorded


@dataclass(frozen=True)
class Rule:
    """One state's moves: where it may go, how long it lasts at most (None: idle waits
    for a guest), and where it goes when that time is up."""

    next: frozenset[State]
    time_limit_s: Callable[[config.Settings], float] | None = None
    time_up: State | None = None

    def limit_s(self, settings: config.Settings) -> float:
        """How long the state lasts at most (idle has no limit: it waits for a guest)."""
        return self.time_limit_s(settings) if self.time_limit_s is not None else math.inf


#: Every state's rule; any other move is a bug (:class:`InvalidTransition`). Following
#: ``time_up`` from any state leads back to idle.
RULES: dict[State, Rule] = {
    # A press (to capture, or a boomerang's burst, when there is no countdown); a phone's
    # photo shown on the kiosk; failsafe when the booth turns out not ready at the press.
    State.IDLE: Rule(frozenset({State.CONSENT, State.COUNTDOWN, State.CAPTURE, State.BURST,
                                State.RESULT, State.FAILSAFE})),
    # The guest's answer: yes goes on (or fails safe when the booth turned out not
    # ready); no, no answer in time, or shutting down: idle, and nothing is taken.
    State.CONSENT: Rule(frozenset({State.COUNTDOWN, State.CAPTURE, State.BURST, State.IDLE,
                                   State.FAILSAFE}),
                        lambda s: s.privacy.ask_timeout_s, State.IDLE),
    # One announcement a second; cancelled (button held) or shutting down: idle.
    State.COUNTDOWN: Rule(frozenset({State.COUNTDOWN, State.CAPTURE, State.BURST, State.IDLE,
                                     State.FAILSAFE}),
                          lambda s: s.cycle.countdown_s, State.CAPTURE),
    # The camera supervisor gives up on a hung camera after this long; a strip's shot
    # that is not its last goes on to the next.
    State.CAPTURE: Rule(frozenset({State.PROCESS, State.SHOT, State.FAILSAFE}),
                        lambda s: s.camera.capture_timeout_s, State.FAILSAFE),
    # A strip's shot on screen, then the next shot's countdown (or its capture without
    # one); shutting down: idle, and the shots taken are dropped.
    State.SHOT: Rule(frozenset({State.COUNTDOWN, State.CAPTURE, State.IDLE, State.FAILSAFE}),
                     lambda s: SHOT_SHOWN_S, State.COUNTDOWN),
    # The burst lasts its own length; the supervisor gives up on a hung camera after
    # that and capture_timeout_s.
    State.BURST: Rule(frozenset({State.PROCESS, State.FAILSAFE}),
                      lambda s: boomerang.BURST_S + s.camera.capture_timeout_s, State.FAILSAFE),
    State.PROCESS: Rule(frozenset({State.RESULT, State.FAILSAFE}),
                        lambda s: s.cycle.process_timeout_s, State.FAILSAFE),
    # The next guest may press while the result is shown.
    State.RESULT: Rule(frozenset({State.IDLE, State.CONSENT, State.COUNTDOWN, State.CAPTURE, State.BURST,
                                  State.FAILSAFE}),
                       lambda s: s.cycle.show_result_s, State.IDLE),
    State.FAILSAFE: Rule(frozenset({State.IDLE}), lambda s: s.cycle.failsafe_s, State.IDLE),
}
#: The states between cycles: a press may be waiting, phones' pictures are made.
RESTING = frozenset({State.IDLE, State.RESULT, State.FAILSAFE})
#: What the button's light does in each state (any other: off). Breathing: press me.
#: Solid: look at the camera. Blinking: working on it.
LED = {State.IDLE: "breathe", State.CONSENT: "breathe", State.COUNTDOWN: "on", State.CAPTURE: "on",
       State.PROCESS: "blink", State.RESULT: "breathe"}


class InvalidTransition(RuntimeError):
    """A move the state table (:data:`RULES`) does not have."""


def check_transition(old: State, new: State) -> None:
    """Raise :class:`InvalidTransition` unless ``old`` may go to ``new``."""
    if new not in RULES[old].next:
        raise InvalidTransition(f"the booth cannot go from {old} to {new}")


@dataclass
class Cycle:
    """One guest's cycle, from the press taken to the result (or failsafe)."""

    source: str
    pressed: float  # monotonic
    seconds_left: int = 0
    smile: float = 0.0  # monotonic: capture starts; press-to-result counts from here
    frame: np.ndarray | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    mode: str = "photo"
    style: str | None = None
    #: A strip: each shot's stylizing on the worker (Future of a :class:`booth.daemon.moments.Shot`).
    shots: list[Future] = field(default_factory=list)
    #: A boomerang: the burst stylized frame by frame as it comes in.
    burst: Burst | None = None
    #: Monotonic time the last shot or the burst ended (the "ready after" figures).
    last_taken: float = 0.0

    def mode_data(self, strip_shots: int) -> dict[str, object]:
        """What the kiosk needs to know about the cycle's mode with each state."""
        data: dict[str, object] = {"mode": self.mode}
        if self.mode == "strip":
            data |= {"shot": len(self.shots) + 1, "shots": strip_shots}
        return data
