"""The same GPIO checks on a real Raspberry Pi's pins (gpiozero's own pin factory), skipped elsewhere.

Wire two loopbacks and name them (BCM numbers), e.g.::

    RETROWALK_TEST_GPIO_LOOPBACK="17:22,27:23" pytest -m hardware tests/hal/test_gpio_real.py

``17:22``: the buzzer pin (17) is jumpered to a spare input (22) that reads it back (no buzzer fitted, or a
piezo in parallel). ``27:23``: the button pin (27) is jumpered to a spare output (23) that "presses" it by
pulling it low. Button edges arrive in gpiozero's own thread here, so the test waits on the queue with a
timeout (never a fixed sleep).
"""
from __future__ import annotations

import os
import queue

import pytest

from hal.gpio import PRESS, RELEASE, GpioSettings, build_gpio

pytestmark = pytest.mark.hardware

LOOPBACK = os.environ.get("RETROWALK_TEST_GPIO_LOOPBACK", "")


def loopback_pairs():
    if not LOOPBACK:
        pytest.skip("no GPIO loopback wired: set RETROWALK_TEST_GPIO_LOOPBACK=\"17:22,27:23\" on a Pi")
    try:
        (buzzer, buzzer_probe), (button, button_driver) = (tuple(int(p) for p in pair.split(":"))
                                                           for pair in LOOPBACK.split(","))
    except ValueError:
        pytest.fail(f"RETROWALK_TEST_GPIO_LOOPBACK = {LOOPBACK!r}: use \"<buzzer>:<probe>,<button>:<driver>\" "
                    f"in BCM numbers, e.g. \"17:22,27:23\"")
    return buzzer, buzzer_probe, button, button_driver


def test_buzzer_and_button_work_on_real_pins_when_loopbacks_are_wired():
    from gpiozero import DigitalInputDevice, DigitalOutputDevice

    buzzer_pin, probe_pin, button_pin, driver_pin = loopback_pairs()
    settings = GpioSettings(buzzer_pin=buzzer_pin, button_pin=button_pin)
    with build_gpio(settings) as gpio:
        probe = DigitalInputDevice(probe_pin, pull_up=None, active_state=True)
        driver = DigitalOutputDevice(driver_pin, initial_value=True)
        try:
            gpio.buzzer.on()
            assert probe.value == 1
            gpio.buzzer.off()
            assert probe.value == 0
            driver.off()  # pulls the button pin to GND: a press
            assert gpio.presses.get(timeout=1.0)[0] == PRESS
            driver.on()
            assert gpio.presses.get(timeout=1.0)[0] == RELEASE
        except queue.Empty:
            pytest.fail(f"no button edge within 1 s: is BCM {driver_pin} jumpered to BCM {button_pin}?")
        finally:
            probe.close()
            driver.close()
