"""The button through gpiozero's MockFactory, the LED, and the honest GPIO check."""

from __future__ import annotations

import threading
import time

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin

from booth import config
from booth.devices.button import BoothButton, gpio_check


@pytest.fixture
def factory():
    previous = Device.pin_factory
    Device.pin_factory = MockFactory(pin_class=MockPWMPin)
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = previous


def button_settings(**changes):
    return config.defaults().replace("button", **changes).button


def wait_for(predicate, timeout=3.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


def test_each_press_calls_on_press_once(factory):
    presses = []
    button = BoothButton(button_settings(bounce_time=0.0), on_press=lambda: presses.append(1), on_pi=False)
    pin = factory.pin(17)
    for _ in range(3):
        pin.drive_low()   # pull-up wiring: pressed = low
        pin.drive_high()
    assert wait_for(lambda: len(presses) == 3)
    button.close()


def test_bounce_time_and_pull_up_reach_the_pin(factory):
    """Debouncing itself is done by the pin library (lgpio on a Pi; MockPin does not
    simulate it), so what the booth must get right is configuring the pin."""
    button = BoothButton(button_settings(bounce_time=0.2), on_press=lambda: None, on_pi=False)
    pin = factory.pin(17)
    assert pin.bounce == pytest.approx(0.2)
    assert pin.pull == "up"
    button.close()


def test_pull_down_wiring_is_pressed_high(factory):
    presses = []
    button = BoothButton(button_settings(pull_up=False, bounce_time=0.0),
                         on_press=lambda: presses.append(1), on_pi=False)
    factory.pin(17).drive_high()
    assert wait_for(lambda: presses == [1])
    button.close()


def test_holding_calls_on_hold_when_hold_to_cancel_is_set(factory):
    held = threading.Event()
    button = BoothButton(button_settings(hold_to_cancel_s=0.2, bounce_time=0.0),
                         on_press=lambda: None, on_hold=held.set, on_pi=False)
    pin = factory.pin(17)
    pin.drive_low()
    assert held.wait(3)
    pin.drive_high()
    button.close()


def test_led_breathes_when_idle_and_is_solid_in_the_countdown(factory):
    button = BoothButton(button_settings(led_pin=18), on_press=lambda: None, on_pi=False)
    led_pin = factory.pin(18)
    button.set_led("on")
    assert led_pin.state == 1
    button.set_led("breathe")
    values = set()
    end = time.monotonic() + 1.5
    while time.monotonic() < end:
        values.add(round(led_pin.state, 1))
        time.sleep(0.02)
    assert len(values) >= 4, f"a breathing LED takes many brightness levels, saw {values}"
    button.set_led("off")
    time.sleep(0.05)
    assert led_pin.state == 0
    button.close()


def test_mock_factory_on_a_pi_is_reported_loudly(factory, caplog):
    button = BoothButton(button_settings(), on_press=lambda: None, on_pi=True)
    status = button.status()
    assert status == {"ok": False, "real": False, "message": status["message"]}
    assert "NOT CONNECTED TO REAL GPIO" in status["message"] and "MockFactory" in status["message"]
    assert any(r.levelname == "ERROR" and "REAL GPIO" in r.message for r in caplog.records)
    button.close()


def test_mock_factory_on_a_pi_without_require_real_gpio_is_not_an_error(factory):
    button = BoothButton(button_settings(require_real_gpio=False), on_press=lambda: None, on_pi=True)
    assert button.status()["ok"] is True and button.status()["real"] is False
    button.close()


def test_off_a_pi_the_mock_factory_is_fine_and_said_plainly(factory):
    button = BoothButton(button_settings(), on_press=lambda: None, on_pi=False)
    assert button.status()["ok"] is True and button.status()["real"] is False
    assert "not a Raspberry Pi" in button.status()["message"]
    button.close()


def test_no_pin_factory_at_all_does_not_stop_the_booth(monkeypatch):
    """Without GPIO libraries (this dev machine) the button reports why instead of raising."""
    previous = Device.pin_factory
    Device.pin_factory = None
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    try:
        button = BoothButton(button_settings(), on_press=lambda: None, on_pi=True)
        status = button.status()
    finally:
        Device.pin_factory = previous
    if status["real"]:
        pytest.skip("this machine has real GPIO")
    assert status["ok"] is False and "not available" in status["message"]
    button.close()


def test_gpio_check_accepts_a_real_factory():
    class LGPIOFactory:  # what gpiozero uses on a Pi 5 with python3-lgpio
        pass

    assert gpio_check(LGPIOFactory(), on_pi=True, require_real=True)["real"] is True
    assert gpio_check(None, on_pi=True, require_real=True)["ok"] is False


def test_a_long_press_goes_to_the_next_style_and_a_short_one_takes_a_photo(factory):
    presses, styles = [], []
    button = BoothButton(button_settings(bounce_time=0.0, long_press_s=0.2),
                         on_press=lambda: presses.append(1), on_pi=False,
                         on_style=lambda: styles.append(1))
    try:
        pin = factory.pin(17)
        pin.drive_low()
        time.sleep(0.05)
        assert presses == []           # a press cannot know yet whether it will be long
        pin.drive_high()
        assert wait_for(lambda: presses == [1]) and styles == []
        pin.drive_low()
        assert wait_for(lambda: styles == [1])
        pin.drive_high()
        time.sleep(0.1)
        assert presses == [1]          # the long press took no photo
    finally:
        button.close()


def test_a_style_button_on_its_own_pin_keeps_the_main_button_instant(factory):
    presses, styles = [], []
    button = BoothButton(button_settings(bounce_time=0.0, style_pin=27),
                         on_press=lambda: presses.append(1), on_pi=False,
                         on_style=lambda: styles.append(1))
    try:
        factory.pin(17).drive_low()
        assert wait_for(lambda: presses == [1])     # on press, not on release
        factory.pin(17).drive_high()
        factory.pin(27).drive_low()
        factory.pin(27).drive_high()
        assert wait_for(lambda: styles == [1]) and presses == [1]
    finally:
        button.close()


def test_holding_the_style_button_goes_to_the_next_mode_and_a_tap_to_the_next_style(factory):
    presses, styles, modes = [], [], []
    button = BoothButton(button_settings(bounce_time=0.0, style_pin=27, long_press_s=0.2),
                         on_press=lambda: presses.append(1), on_pi=False,
                         on_style=lambda: styles.append(1), on_mode=lambda: modes.append(1))
    try:
        style = factory.pin(27)
        style.drive_low()
        style.drive_high()
        assert wait_for(lambda: styles == [1]) and modes == []
        style.drive_low()
        assert wait_for(lambda: modes == [1])
        style.drive_high()
        time.sleep(0.1)
        assert styles == [1] and presses == []   # held: the mode only
        factory.pin(17).drive_low()
        assert wait_for(lambda: presses == [1])  # the main button stays instant
    finally:
        button.close()
