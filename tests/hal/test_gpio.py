"""hal.gpio on gpiozero's MockFactory: the pins a wearer's buzzer, LED and button are wired to."""
from __future__ import annotations

import queue

import pytest

from hal.gpio import PRESS, RELEASE, GpioError, GpioSettings, build_gpio, mock_pin_factory


def drain(q: "queue.SimpleQueue") -> list:
    items = []
    while True:
        try:
            items.append(q.get_nowait())
        except queue.Empty:
            return items


def test_active_buzzer_drives_its_pin_high_then_low_when_switched(mock_factory, fake_clock):
    with build_gpio(GpioSettings(), pin_factory=mock_factory, clock=fake_clock) as gpio:
        gpio.buzzer.on()
        assert gpio.buzzer.is_on
        gpio.buzzer.off()
        assert [s.state for s in mock_factory.pin(17).states] == [False, True, False]


def test_passive_buzzer_plays_tone_hz_and_stops_when_switched(pwm_factory, fake_clock):
    settings = GpioSettings(buzzer_kind="passive", tone_hz=3000.0)
    with build_gpio(settings, pin_factory=pwm_factory, clock=fake_clock) as gpio:
        pin = pwm_factory.pin(17)
        gpio.buzzer.on()
        assert pin.frequency == pytest.approx(3000.0) and pin.state == 0.5 and gpio.buzzer.is_on
        gpio.buzzer.off()
        assert pin.frequency is None and pin.state == 0 and not gpio.buzzer.is_on


def test_passive_buzzer_is_refused_with_the_fix_when_pins_cannot_do_pwm(mock_factory, fake_clock):
    with pytest.raises(GpioError, match=r"passive buzzer needs a PWM-capable pin.*buzzer_kind = \"active\""):
        build_gpio(GpioSettings(buzzer_kind="passive"), pin_factory=mock_factory, clock=fake_clock)
    # nothing stays claimed: the same pins can be built again
    build_gpio(GpioSettings(), pin_factory=mock_factory, clock=fake_clock).close()


def test_button_queues_press_and_release_with_clock_times_when_pressed(mock_factory, fake_clock):
    with build_gpio(GpioSettings(), pin_factory=mock_factory, clock=fake_clock) as gpio:
        pin = mock_factory.pin(27)
        assert pin.state  # idle high: internal pull-up, the button shorts the pin to GND
        pin.drive_low()
        assert gpio.button.is_pressed
        fake_clock.advance(0.4)
        pin.drive_high()
        assert drain(gpio.presses) == [(PRESS, 1000.0), (RELEASE, 1000.4)]
        assert pin.bounce == pytest.approx(0.02)


def test_status_led_exists_only_when_led_pin_is_configured(mock_factory, fake_clock):
    with build_gpio(GpioSettings(), pin_factory=mock_factory, clock=fake_clock) as gpio:
        assert gpio.led is None
    with build_gpio(GpioSettings(led_pin=22), pin_factory=mock_factory, clock=fake_clock) as gpio:
        gpio.led.on()
        assert mock_factory.pin(22).state and gpio.led.is_on


def test_close_releases_every_pin_and_can_be_repeated_when_done(mock_factory, fake_clock):
    settings = GpioSettings(led_pin=22)
    gpio = build_gpio(settings, pin_factory=mock_factory, clock=fake_clock)
    gpio.buzzer.on()
    gpio.close()
    gpio.close()
    gpio.buzzer.off()  # shutdown paths may switch off after closing: harmless
    assert not gpio.buzzer.is_on
    build_gpio(settings, pin_factory=mock_factory, clock=fake_clock).close()  # pins are free again


def test_pin_in_use_names_the_pin_and_setting_and_frees_the_others_when_building_fails(mock_factory, fake_clock):
    first = build_gpio(GpioSettings(), pin_factory=mock_factory, clock=fake_clock)
    try:
        with pytest.raises(GpioError, match=r"button on BCM 27 \(button_pin\).*no other program uses the pin"):
            build_gpio(GpioSettings(buzzer_pin=5), pin_factory=mock_factory, clock=fake_clock)
        # the half-built second set let go of BCM 5
        build_gpio(GpioSettings(buzzer_pin=5, button_pin=6), pin_factory=mock_factory, clock=fake_clock).close()
    finally:
        first.close()


def test_mock_pin_factory_serves_both_buzzer_kinds_when_run_off_the_pi(fake_clock):
    factory = mock_pin_factory()
    try:
        for kind in ("active", "passive"):
            with build_gpio(GpioSettings(buzzer_kind=kind), pin_factory=factory, clock=fake_clock) as gpio:
                gpio.buzzer.on()
                assert gpio.buzzer.is_on and gpio.buzzer.value == 1
                gpio.buzzer.off()
                assert gpio.buzzer.value == 0
    finally:
        factory.close()


@pytest.mark.parametrize("changes, message", [
    ({"buzzer_pin": 40}, r"buzzer_pin = 40 is not a GPIO pin; use a BCM number from 2 to 27"),
    ({"led_pin": True}, r"led_pin = True is not a GPIO pin"),
    ({"button_pin": 3}, r"button_pin = 3 is I2C bus 1"),
    ({"button_pin": 17}, r"button_pin = 17 is already buzzer_pin"),
    ({"led_pin": 27}, r"led_pin = 27 is already button_pin"),
    ({"buzzer_kind": "loud"}, r"buzzer_kind = 'loud' is not allowed; use \"active\""),
    ({"tone_hz": 20000.0}, r"tone_hz = 20000 is not allowed; use 50 to 6000 Hz"),
    ({"button_bounce_s": 1.0}, r"button_bounce_s = 1.0 is not allowed; use 0 to 0.5"),
])
def test_wiring_that_cannot_work_is_refused_naming_the_field_when_settings_are_made(changes, message):
    with pytest.raises(ValueError, match=message):
        GpioSettings(**changes)
