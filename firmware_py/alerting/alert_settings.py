"""``[alerts]``: pins, buzzer, button, timings and one pattern per event type (``AlertSettings``)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Optional

from hal.gpio_settings import GpioSettings

from .alarm_patterns import DEFAULT_PATTERNS, TEST_ALARM, PatternSettings
from .urgency import PRIORITY, SELF_ENDING
from ..events import FALL, HELP_NEEDED, LOSS_OF_BALANCE, SHUTTING_DOWN, SOS, STUMBLE

#: the longest mute by default; the MQTT ``mute`` command is bounded by the same setting
MUTE_MAX_MINUTES = 120.0


def _default(kind: str) -> Callable[[], PatternSettings]:
    return lambda: DEFAULT_PATTERNS[kind]


@dataclass(frozen=True)
class AlertSettings:
    """The ``[alerts]`` section: pins, buzzer, button, timings and one pattern per event type.

    Pins are BCM numbers. ``buzzer_kind`` "active" (has its own oscillator: on/off) or "passive" (a piezo
    driven at ``tone_hz``). ``cancel_window_s``: how long the wearer has to press "I'm OK" after a fall before
    ``help_needed``. ``long_press_s``: a hold this long is a manual SOS. ``help_dedupe_s``: a ``help_needed``
    within this long of a fall belongs to that fall. ``cooldown_s``: a stumble or loss-of-balance alarm does
    not sound again within this long of its last start; ``rate_limit_alarms`` per ``rate_limit_window_s`` caps
    them together. ``mute_max_minutes`` bounds ``mute``; ``mute_falls`` lets a mute silence fall-class alarms.
    """

    # the wiring: ``gpio`` hands these to hal.gpio as its GpioSettings, which checks them (its messages name
    # these keys) and holds their defaults
    buzzer_pin: int = GpioSettings.buzzer_pin
    button_pin: int = GpioSettings.button_pin
    led_pin: Optional[int] = GpioSettings.led_pin
    buzzer_kind: str = GpioSettings.buzzer_kind
    tone_hz: float = GpioSettings.tone_hz
    button_bounce_s: float = GpioSettings.button_bounce_s
    long_press_s: float = 3.0
    cancel_window_s: float = 30.0
    help_dedupe_s: float = 120.0
    cooldown_s: float = 3.0
    rate_limit_alarms: int = 6
    rate_limit_window_s: float = 60.0
    mute_max_minutes: float = MUTE_MAX_MINUTES
    mute_falls: bool = False
    stumble: PatternSettings = field(default_factory=_default(STUMBLE))
    loss_of_balance: PatternSettings = field(default_factory=_default(LOSS_OF_BALANCE))
    fall: PatternSettings = field(default_factory=_default(FALL))
    help_needed: PatternSettings = field(default_factory=_default(HELP_NEEDED))
    sos: PatternSettings = field(default_factory=_default(SOS))
    test_alarm: PatternSettings = field(default_factory=_default(TEST_ALARM))
    shutting_down: PatternSettings = field(default_factory=_default(SHUTTING_DOWN))

    def __post_init__(self) -> None:
        self.gpio  # made here to check the wiring first, as before the checks moved to hal.gpio
        _check_range("long_press_s", self.long_press_s, 0.5, 30.0)
        _check_range("cancel_window_s", self.cancel_window_s, 1.0, 600.0)
        _check_range("help_dedupe_s", self.help_dedupe_s, self.cancel_window_s, 3600.0,
                     low_text="cancel_window_s")
        _check_range("cooldown_s", self.cooldown_s, 0.0, 3600.0)
        _check_range("rate_limit_window_s", self.rate_limit_window_s, 1.0, 3600.0)
        if isinstance(self.rate_limit_alarms, bool) or not isinstance(self.rate_limit_alarms, int) \
                or self.rate_limit_alarms < 1:
            raise ValueError(f"rate_limit_alarms = {self.rate_limit_alarms!r} is not allowed; use a count >= 1")
        _check_range("mute_max_minutes", self.mute_max_minutes, 1.0, 24 * 60.0)
        for key in (STUMBLE, LOSS_OF_BALANCE, FALL, HELP_NEEDED, SOS, TEST_ALARM, SHUTTING_DOWN):
            pattern = getattr(self, key)
            if isinstance(pattern, dict):  # a loader that hands over the raw table
                pattern = PatternSettings(**pattern)
                object.__setattr__(self, key, pattern)
            if not isinstance(pattern, PatternSettings):
                raise ValueError(f"{key} = {pattern!r} is not a pattern; use a table with steps_s and repeat")
            pattern = pattern.with_defaults(DEFAULT_PATTERNS[key])
            object.__setattr__(self, key, pattern)
            if key in SELF_ENDING or key in (TEST_ALARM, SHUTTING_DOWN):
                if pattern.repeat == 0:
                    raise ValueError(f"{key}.repeat = 0 would buzz until cancelled; a {key} pattern must end "
                                     f"on its own (repeat >= 1)")

    @property
    def gpio(self) -> GpioSettings:
        """The wiring, for ``hal.gpio.build_gpio``: the fields of the same names."""
        return GpioSettings(**{f.name: getattr(self, f.name) for f in dataclasses.fields(GpioSettings)})

    def pattern_for(self, kind: str) -> Optional[PatternSettings]:
        return getattr(self, kind) if kind in PRIORITY else None


def _check_range(key: str, value: float, low: float, high: float, low_text: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (low <= value <= high):
        low_part = f"{low_text} ({low:g})" if low_text else f"{low:g}"
        raise ValueError(f"{key} = {value!r} is not allowed; use {low_part} to {high:g}")
