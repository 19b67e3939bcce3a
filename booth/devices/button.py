"""The big button (and the LED in it), through gpiozero — and an honest GPIO check.

    button = BoothButton(settings.button, on_press=booth.trigger, on_hold=booth.cancel,
                         on_decline=booth.decline)   # with [privacy] consent = "ask"
    button.set_led("breathe")     # idle: the LED breathes; "on" in the countdown
    button.status()               # {"ok": ..., "real": ..., "message": ...}

The classic failure at events is a button that is silently dead because gpiozero
ended up on a mock pin factory (or the unreliable native one). :func:`gpio_check`
looks at the pin factory actually in use: on a Raspberry Pi with
``require_real_gpio``, a mock factory is reported loudly (log, ``/healthz``, the
kiosk screen) instead of being ignored. Off a Pi (a dev machine) there is no GPIO;
the HTTP trigger and the kiosk keyboard still work.

Tests drive the button with gpiozero's ``MockFactory``::

    Device.pin_factory = MockFactory()
    button = BoothButton(settings.button, on_press=pressed)
    Device.pin_factory.pin(17).drive_low()   # press (pull-up wiring)
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any, Callable, cast

log = logging.getLogger(__name__)

_MODEL_FILES = (Path("/proc/device-tree/model"), Path("/sys/firmware/devicetree/base/model"))


def board_model() -> str:
    """The device-tree model string ("Raspberry Pi 5 Model B Rev 1.0"), or "" off a Pi."""
    for path in _MODEL_FILES:
        try:
            return path.read_bytes().rstrip(b"\0").decode("ascii", "replace").strip()
        except OSError:
            continue
    return ""


def is_raspberry_pi() -> bool:
    return board_model().startswith("Raspberry Pi")


def gpio_check(pin_factory, *, on_pi: bool, require_real: bool) -> dict:
    """{"ok", "real", "message"} for the pin factory gpiozero is using (None: none at all)."""
    name = type(pin_factory).__name__ if pin_factory is not None else "none"
    real = pin_factory is not None and name not in ("MockFactory", "NativeFactory")
    if real:
        return {"ok": True, "real": True, "message": f"button on real GPIO ({name})"}
    if not on_pi:
        why = "mock pins" if name == "MockFactory" else "no GPIO"
        return {"ok": True, "real": False,
                "message": f"{why}: not a Raspberry Pi; use the kiosk keyboard or the HTTP trigger"}
    message = (f"BUTTON NOT CONNECTED TO REAL GPIO (gpiozero uses {name}): install python3-lgpio "
               "and unset GPIOZERO_PIN_FACTORY")
    return {"ok": not require_real, "real": False, "message": message}


class BoothButton:
    """The guest's button on ``[button] pin`` and an optional LED on ``led_pin``.

    ``on_press`` is called for each press (from gpiozero's thread; keep it quick).
    ``on_hold`` is called when the button is held ``hold_to_cancel_s`` (0 = off).
    ``on_style`` (optional) goes to the next style: from a second button on
    ``style_pin``, or without one from a long press (``long_press_s``) of the main
    button. The main button then starts a photo on release after a short press (a
    press cannot know yet whether it will be long), and a hold during the countdown
    cancels it after ``long_press_s``.
    ``on_decline`` (optional; the consent question) is asked first on every hold and
    takes it when it returns True: a hold is the guest's no. With it, a press too
    counts on release (a hold must never start as a yes).
    ``on_mode`` (optional) goes to the next mode (photo, strip, boomerang) when the
    style button on ``style_pin`` is held ``long_press_s``.
    A button that cannot be set up does not stop the booth: ``status()`` says why.
    """

    def __init__(self, settings_button, on_press: Callable[[], object],
                 on_hold: Callable[[], object] | None = None, *, pin_factory=None,
                 on_pi: bool | None = None, on_style: Callable[[], object] | None = None,
                 on_decline: Callable[[], bool] | None = None,
                 on_mode: Callable[[], object] | None = None) -> None:
        # gpiozero where the devices are made: importing it looks for pin libraries,
        # which a machine that only builds models or serves the gallery has no use for.
        from gpiozero.exc import GPIOZeroError

        self.settings = settings_button
        # gpiozero's Button and (PWM)LED (untyped: Any), made by _make_devices; None without GPIO.
        self.button: Any = cast(Any, None)
        self.led: Any = cast(Any, None)
        self.style_button: Any = cast(Any, None)
        self._long_pressed = False
        self._led_mode = "off"
        on_pi = is_raspberry_pi() if on_pi is None else on_pi
        try:
            with warnings.catch_warnings():
                # gpiozero warns once per factory it falls back from; the status says it all.
                warnings.simplefilter("ignore")
                self._make_devices(settings_button, on_press, on_hold, pin_factory)
                if on_decline is not None:
                    self._press_on_release(on_press, lambda: on_decline() or self._cancel_on_hold(
                        settings_button, on_hold))
                if on_style is not None:
                    self._make_style_input(settings_button, on_press, on_hold, on_style, pin_factory,
                                           on_decline, on_mode)
            factory = self.button.pin_factory
            self._status = gpio_check(factory, on_pi=on_pi, require_real=settings_button.require_real_gpio)
        except (GPIOZeroError, OSError, RuntimeError) as exc:
            self.close()
            if on_pi:
                self._status = {"ok": False, "real": False,
                                "message": f"button on GPIO {settings_button.pin} not available: {exc}"}
            else:
                self._status = {"ok": True, "real": False,
                                "message": f"no GPIO ({type(exc).__name__}): not a Raspberry Pi; "
                                           "use the kiosk keyboard or the HTTP trigger"}
        level = logging.INFO if self._status["ok"] else logging.ERROR
        log.log(level, "button: %s", self._status["message"])

    def _make_devices(self, settings_button, on_press, on_hold, pin_factory) -> None:
        from gpiozero import LED, PWMLED, Button

        hold = settings_button.hold_to_cancel_s
        self.button = Button(settings_button.pin, pull_up=settings_button.pull_up,
                             bounce_time=settings_button.bounce_time or None,
                             hold_time=hold or 1.0, pin_factory=pin_factory)
        self.button.when_pressed = lambda: on_press()
        if hold and on_hold is not None:
            self.button.when_held = lambda: on_hold()
        if settings_button.led_pin >= 0:
            led_class = PWMLED if settings_button.led_pwm else LED
            self.led = led_class(settings_button.led_pin, pin_factory=pin_factory)

    @staticmethod
    def _cancel_on_hold(settings_button, on_hold) -> bool:
        """A hold cancels the countdown when ``hold_to_cancel_s`` is set; True if it did."""
        return bool(settings_button.hold_to_cancel_s and on_hold is not None and on_hold())

    def _press_on_release(self, on_press, on_held) -> None:
        """The main button presses on release after a short press, and calls ``on_held``
        (instead of pressing) once held for its hold time."""

        def pressed() -> None:
            self._long_pressed = False

        def held() -> None:
            self._long_pressed = True
            on_held()

        def released() -> None:
            if not self._long_pressed:
                on_press()

        self.button.when_pressed = pressed
        self.button.when_held = held
        self.button.when_released = released

    def _make_style_input(self, settings_button, on_press, on_hold, on_style, pin_factory,
                          on_decline=None, on_mode=None) -> None:
        """The style button on ``style_pin`` (held ``long_press_s``: the next mode, when
        ``on_mode`` is given), else the main button's long press."""
        from gpiozero import Button

        if settings_button.style_pin >= 0:
            self.style_button = Button(settings_button.style_pin, pull_up=settings_button.pull_up,
                                       bounce_time=settings_button.bounce_time or None,
                                       pin_factory=pin_factory)
            if on_mode is None or not settings_button.long_press_s:
                self.style_button.when_pressed = lambda: on_style()
                return
            style_held: list[bool] = []

            def style_released() -> None:
                if not style_held:
                    on_style()
                style_held.clear()

            def style_held_down() -> None:
                style_held.append(True)
                on_mode()

            self.style_button.hold_time = settings_button.long_press_s
            self.style_button.when_held = style_held_down
            self.style_button.when_released = style_released
            return
        if not settings_button.long_press_s:
            return

        def held() -> None:
            # Held at the consent question: no; during a countdown: cancel it (if
            # configured); while idle: next style.
            if not ((on_decline is not None and on_decline())
                    or self._cancel_on_hold(settings_button, on_hold)):
                on_style()

        self.button.hold_time = settings_button.long_press_s
        self._press_on_release(on_press, held)

    def status(self) -> dict:
        return dict(self._status)

    def set_led(self, mode: str) -> None:
        """"breathe" (idle), "on" (countdown), "blink" (busy) or "off"."""
        if self.led is None or mode == self._led_mode:
            return
        self._led_mode = mode
        pwm = hasattr(self.led, "pulse")
        if mode == "breathe" and pwm:
            self.led.pulse(fade_in_time=1.2, fade_out_time=1.2)
        elif mode in ("on", "breathe"):
            self.led.on()
        elif mode == "blink":
            self.led.blink(on_time=0.15, off_time=0.15)
        else:
            self.led.off()

    @property
    def led_mode(self) -> str:
        return self._led_mode

    def close(self) -> None:
        for device in (self.led, self.button, self.style_button):
            if device is not None:
                try:
                    device.close()
                except Exception:
                    pass
        self.led = self.button = self.style_button = None
