"""The buzzer, the optional status LED and the "I'm OK" button, on GPIO: the only gpiozero import in retrowalk.

Every gpiozero device is built with ``pin_factory=`` passed in (``Device.pin_factory`` is never set), so the
daemon picks the Pi's own factory and tests pass gpiozero's ``MockFactory``. Pins are BCM numbers.

Wiring (defaults; see docs/alerts.md)::

    buzzer  BCM 17 (header pin 11) ── buzzer + ; buzzer - ── GND. An active buzzer drawing more than
            ~16 mA goes through an NPN transistor (base via 1 kΩ) instead of straight off the pin.
    button  BCM 27 (header pin 13) ── push button ── GND; the Pi's internal pull-up holds it high.
    LED     optional, any free pin ── 330 Ω ── LED ── GND.

What is wired where is a ``hal.gpio_settings.GpioSettings`` (pins, buzzer kind, tone, bounce), checked when it is
made, without gpiozero: a pin that is not GPIO, one of I2C bus 1's, or one given to two devices is refused naming
the field.

Threads: on a Pi gpiozero delivers button edges in its own thread. The callbacks here only put
``(PRESS|RELEASE, t_s)`` on ``Gpio.presses`` (a ``queue.SimpleQueue``) for the main loop to drain; with
``MockFactory`` they run synchronously inside ``pin.drive_low()``.

The long press (manual SOS) is *not* timed by gpiozero's ``Button.when_held``: its hold thread waits in real
time, so it cannot be tested on virtual time, and it would hand us one more callback from a foreign thread. The
main loop times it instead from the press and release edges on the injected clock (the alert manager above
the HAL), with the loop's resolution (~50 ms) against a hold of seconds. Since we do not use the hold machinery,
the button is gpiozero's ``DigitalInputDevice`` (what ``Button`` is built on, without ``HoldMixin``): same
pull-up, bounce time and edge callbacks, and no idle hold thread per button (``Button`` starts one even when
nobody sets ``when_held``; it polls every 0.1 s and makes every ``close()`` wait for it).
"""
from __future__ import annotations

import queue
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Tuple, TypeVar, Union

from gpiozero import LED, DigitalInputDevice, DigitalOutputDevice, TonalBuzzer
from gpiozero import Buzzer as OnOffBuzzer
from gpiozero.exc import GPIOZeroError, PinPWMUnsupported
from gpiozero.pins import Factory
from gpiozero.tones import Tone

from hal.clock import Clock, MonotonicClock
from hal.errors import HardwareError
from hal.gpio_settings import ACTIVE, PASSIVE, PRESS, RELEASE, GpioSettings


class GpioError(HardwareError, OSError):
    """A GPIO device could not be set up (pin in use, no GPIO on this machine, no PWM for a passive buzzer)."""


class _OnOffOutput:
    """A gpiozero output that is on or off, safe to switch after close (shutdown paths call off() and close()
    in either order)."""

    def __init__(self, pin: int, device: DigitalOutputDevice) -> None:
        self.pin = pin
        self._device = device

    @property
    def is_on(self) -> bool:
        return not self._device.closed and bool(self._device.is_active)

    def on(self) -> None:
        if not self._device.closed:
            self._device.on()

    def off(self) -> None:
        if not self._device.closed:
            self._device.off()

    def close(self) -> None:
        self._device.close()


class ActiveBuzzer(_OnOffOutput):
    """A buzzer with its own oscillator: it sounds while its pin is high (gpiozero ``Buzzer``).

    :param int pin: BCM number.
    :param pin_factory: the gpiozero pin factory (the Pi's, or ``MockFactory`` in tests).
    """

    kind = ACTIVE

    def __init__(self, pin: int, *, pin_factory: Optional[Factory] = None) -> None:
        super().__init__(pin, OnOffBuzzer(pin, pin_factory=pin_factory))

    @property
    def value(self) -> int:
        """1 while sounding, else 0 (gpiozero's output-device convention)."""
        return int(self.is_on)

    def __repr__(self) -> str:
        return f"ActiveBuzzer(pin={self.pin}, {'on' if self.is_on else 'off'})"


class PassiveBuzzer:
    """A piezo without an oscillator: driven with a square wave at ``tone_hz`` (gpiozero ``TonalBuzzer``).

    Needs a PWM-capable pin factory (on the Pi any pin, in software; in tests
    ``MockFactory(pin_class=MockPWMPin)``).

    :param int pin: BCM number.
    :param float tone_hz: the pitch it plays; a piezo is loudest near its resonance (often 2-4 kHz).
    """

    kind = PASSIVE

    def __init__(self, pin: int, tone_hz: float, *, pin_factory: Optional[Factory] = None) -> None:
        self.pin = pin
        self.tone = Tone.from_frequency(tone_hz)
        # mid_tone = our tone, so the one tone we play is always inside the device's allowed range
        self._device = TonalBuzzer(pin, mid_tone=self.tone, octaves=1, pin_factory=pin_factory)

    @property
    def is_on(self) -> bool:
        return not self._device.closed and self._device.value is not None

    @property
    def value(self) -> int:
        """1 while sounding, else 0 (like ``ActiveBuzzer``; gpiozero's own TonalBuzzer.value is the pitch)."""
        return int(self.is_on)

    def on(self) -> None:
        if not self._device.closed:
            self._device.play(self.tone)

    def off(self) -> None:
        if not self._device.closed:
            self._device.stop()

    def close(self) -> None:
        self._device.close()

    def __repr__(self) -> str:
        return f"PassiveBuzzer(pin={self.pin}, {self.tone.frequency:g} Hz, {'on' if self.is_on else 'off'})"


#: what ``Gpio.buzzer`` is; either kind has ``on()``, ``off()``, ``is_on`` and ``close()``
Buzzer = Union[ActiveBuzzer, PassiveBuzzer]


class StatusLed(_OnOffOutput):
    """Optional LED: lit while an alarm or an uncancelled fall is in progress (shows a muted alarm, too)."""

    def __init__(self, pin: int, *, pin_factory: Optional[Factory] = None) -> None:
        super().__init__(pin, LED(pin, pin_factory=pin_factory))


class CancelButton:
    """The "I'm OK" button: internal pull-up, pressed = pin shorted to GND (low), debounced.

    Each edge puts ``(PRESS, t_s)`` or ``(RELEASE, t_s)`` on ``presses``; nothing else happens in the
    callback, because on a Pi it runs in gpiozero's thread. Press and hold (the long press) is timed from these
    edges, on the clock, by whoever drains ``presses``.

    :param int pin: BCM number; the button connects it to GND.
    :param queue.SimpleQueue presses: drained by the main loop.
    :param clock: stamps the edges.
    :param float bounce_s: contact bounce to ignore.
    """

    def __init__(self, pin: int, presses: "queue.SimpleQueue[Tuple[str, float]]", clock: Clock, *,
                 bounce_s: Optional[float] = 0.02, pin_factory: Optional[Factory] = None) -> None:
        self.pin = pin
        self._presses = presses
        self._clock = clock
        self._device = DigitalInputDevice(pin, pull_up=True, bounce_time=bounce_s or None,
                                          pin_factory=pin_factory)
        self._device.when_activated = self._on_press
        self._device.when_deactivated = self._on_release

    def _on_press(self) -> None:
        self._presses.put((PRESS, self._clock.monotonic()))

    def _on_release(self) -> None:
        self._presses.put((RELEASE, self._clock.monotonic()))

    @property
    def is_pressed(self) -> bool:
        return not self._device.closed and bool(self._device.is_active)

    def close(self) -> None:
        if not self._device.closed:
            self._device.when_activated = None
            self._device.when_deactivated = None
        self._device.close()


@dataclass
class Gpio:
    """The wearer-facing hardware, built by ``build_gpio``; ``close()`` releases every pin (idempotent)."""

    buzzer: Buzzer
    led: Optional[StatusLed]
    button: Optional[CancelButton]
    presses: "queue.SimpleQueue[Tuple[str, float]]" = field(default_factory=queue.SimpleQueue)
    clock: Clock = field(default_factory=MonotonicClock)
    closed: bool = field(default=False, init=False)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for device in (self.buzzer, self.led, self.button):
            if device is not None:
                device.close()

    def __enter__(self) -> "Gpio":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def mock_pin_factory() -> Factory:
    """gpiozero's ``MockFactory`` with PWM-capable pins (works for both buzzer kinds), for runs off the Pi."""
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    return MockFactory(pin_class=MockPWMPin)


_Device = TypeVar("_Device", ActiveBuzzer, PassiveBuzzer, StatusLed, CancelButton)


def build_gpio(settings: GpioSettings, pin_factory: Optional[Factory] = None,
               clock: Optional[Clock] = None) -> Gpio:
    """Buzzer, optional LED and the button, on the pins ``settings`` names.

    :param pin_factory: ``None`` lets gpiozero choose (on a Pi: lgpio / RPi.GPIO); tests pass a ``MockFactory``.
    :param clock: stamps button edges; give it the clock that times the holds (the caller draining
        ``Gpio.presses``), so holds are timed from the edges themselves (otherwise from when they are drained).
    :raises GpioError: naming the pin and the setting when a device cannot be set up; pins already claimed
        are released again.
    """
    clock = clock or MonotonicClock()
    presses: "queue.SimpleQueue[Tuple[str, float]]" = queue.SimpleQueue()
    opened: List[Union[Buzzer, StatusLed, CancelButton]] = []

    def make(what: str, key: str, build: Callable[[], _Device]) -> _Device:
        try:
            device = build()
        except PinPWMUnsupported as exc:
            raise GpioError(f"{key} = {getattr(settings, key)}: a passive buzzer needs a PWM-capable pin "
                            f"({exc.__class__.__name__}); use buzzer_kind = \"{ACTIVE}\" or a pin factory with "
                            f"PWM") from exc
        except GPIOZeroError as exc:
            raise GpioError(f"cannot set up the {what} on BCM {getattr(settings, key)} ({key}): "
                            f"{exc.__class__.__name__}: {exc}. Check that no other program uses the pin, "
                            f"and that this is a Raspberry Pi (or run with the emulated hardware)") from exc
        opened.append(device)
        return device

    try:
        if settings.buzzer_kind == PASSIVE:
            buzzer = make("buzzer", "buzzer_pin", lambda: PassiveBuzzer(settings.buzzer_pin, settings.tone_hz,
                                                                         pin_factory=pin_factory))
        else:
            buzzer = make("buzzer", "buzzer_pin", lambda: ActiveBuzzer(settings.buzzer_pin,
                                                                        pin_factory=pin_factory))
        led = None
        if settings.led_pin is not None:
            led = make("status LED", "led_pin", lambda: StatusLed(settings.led_pin, pin_factory=pin_factory))
        button = make("button", "button_pin", lambda: CancelButton(
            settings.button_pin, presses, clock, bounce_s=settings.button_bounce_s, pin_factory=pin_factory))
    except BaseException:
        for device in reversed(opened):
            device.close()
        raise
    return Gpio(buzzer=buzzer, led=led, button=button, presses=presses, clock=clock)
