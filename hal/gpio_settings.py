"""What is wired where on the Pi's GPIO header (``GpioSettings``), and what the "I'm OK" button reports.

Plain data and checks, without gpiozero: settings are made (and config files checked) on machines and in
commands that never open a pin; ``hal.gpio`` builds the devices from them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

#: what a button callback puts on ``Gpio.presses``, with the clock's time
PRESS = "press"
RELEASE = "release"

ACTIVE, PASSIVE = "active", "passive"
#: ``GpioSettings.buzzer_kind``: a buzzer with its own oscillator (on/off), or a piezo driven at ``tone_hz``
BUZZER_KINDS = (ACTIVE, PASSIVE)

#: the GPIO pins of the 40-pin header, by BCM number
BCM_PINS = range(2, 28)
#: BCM 2 (SDA) and 3 (SCL): I2C bus 1, where the MPU-6050 is
I2C_PINS = (2, 3)


@dataclass(frozen=True)
class GpioSettings:
    """What is wired where: the buzzer, the button and the optional status LED, and what the buzzer is.

    Pins are BCM numbers, each device on its own pin, none on I2C bus 1. ``buzzer_kind`` is "active" (has
    its own oscillator: on/off) or "passive" (a piezo driven at ``tone_hz``). ``button_bounce_s``: contact
    bounce to ignore (0: none). A value that cannot work raises ``ValueError`` naming the field and what is
    allowed, so a caller whose own settings use these names can pass the message on as it is.
    """

    buzzer_pin: int = 17
    button_pin: int = 27
    led_pin: Optional[int] = None
    buzzer_kind: str = ACTIVE
    tone_hz: float = 2800.0
    button_bounce_s: float = 0.02

    def __post_init__(self) -> None:
        pins = [("buzzer_pin", self.buzzer_pin), ("button_pin", self.button_pin)]
        if self.led_pin is not None:
            pins.append(("led_pin", self.led_pin))
        for key, pin in pins:
            if isinstance(pin, bool) or not isinstance(pin, int) or pin not in BCM_PINS:
                raise ValueError(f"{key} = {pin!r} is not a GPIO pin; use a BCM number from 2 to 27")
            if pin in I2C_PINS:
                raise ValueError(f"{key} = {pin} is I2C bus 1 (BCM 2/3, the MPU-6050); choose another pin, "
                                 f"e.g. 17 or 27")
        for i, (key, pin) in enumerate(pins):
            for other_key, other_pin in pins[:i]:
                if pin == other_pin:
                    raise ValueError(f"{key} = {pin} is already {other_key}; each device needs its own pin")
        if self.buzzer_kind not in BUZZER_KINDS:
            raise ValueError(f"buzzer_kind = {self.buzzer_kind!r} is not allowed; use \"{ACTIVE}\" (a buzzer "
                             f"that beeps on its own when powered) or \"{PASSIVE}\" (a piezo driven at tone_hz)")
        if not (50.0 <= self.tone_hz <= 6000.0):
            raise ValueError(f"tone_hz = {self.tone_hz:g} is not allowed; use 50 to 6000 Hz (piezos are "
                             f"loudest near their resonance, often 2000-4000 Hz)")
        bounce_s = self.button_bounce_s
        if isinstance(bounce_s, bool) or not isinstance(bounce_s, (int, float)) or not (0.0 <= bounce_s <= 0.5):
            raise ValueError(f"button_bounce_s = {bounce_s!r} is not allowed; use 0 to 0.5")
