"""``retrowalk selftest``'s power checks: the battery gauge (``[power] gauge``) and the Pi's under-voltage and
throttling flags, each a ✓ or a ✗ with its fix."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .selftest import Check

if TYPE_CHECKING:
    from hal.clock import Clock
    from ..config import Config


def battery_gauge(config: Config, clock: Clock, emulated: bool) -> Check:
    from hal.errors import GaugeError
    from ..daemon.wiring import build_power_monitor, with_emulated_sensor
    from ..daemon.power import FIRST_READ_AFTER_S

    settings = config.power
    if settings.gauge == "none":
        return Check("", True, "none configured (fine on a wall supply; on a UPS HAT set [power] gauge = "
                               "\"ina219\")")
    monitor = build_power_monitor(with_emulated_sensor(config) if emulated else config, clock)
    try:
        gauge = monitor.open_gauge()
        try:
            clock.sleep(FIRST_READ_AFTER_S)  # the first conversions
            reading = gauge.read()
        finally:
            gauge.close()
    except GaugeError as exc:
        fix = str(exc).split("; ", 1)[1] if "; " in str(exc) else (
            "check [power] shunt_ohms and that the gauge measures the battery lead")
        return Check("", False, str(exc).split("; ", 1)[0], fix)
    state = "charging" if reading.charging else "discharging"
    low = reading.percent <= settings.low_percent and not reading.charging
    where = f"{settings.gauge.upper()} at 0x{settings.gauge_address:02x}" + (" (emulated)" if emulated else "")
    current = f" ({reading.current_a:+.2f} A)" if reading.current_a is not None else ""
    return Check("", not low, f"{where}: {reading.voltage_v:.2f} V, {reading.percent:.0f} %, {state}{current}",
                 f"the battery is at or below low_percent ({settings.low_percent:g} %): charge it before a walk")


def power_flags(config: Config, emulated: bool) -> Check:
    from hal.throttle import ThrottleError, open_throttle_source

    source = None if emulated else open_throttle_source(config.power.throttled_source)
    if source is None:
        return Check("", True, "no firmware flags here (not a Raspberry Pi, or [power] throttled_source = "
                               "\"none\"): nothing to check")
    try:
        flags = source.read()
    except ThrottleError as exc:
        return Check("", False, str(exc).split("; ", 1)[0],
                     str(exc).split("; ", 1)[1] if "; " in str(exc) else "check [power] throttled_source")
    return Check("", flags.raw == 0, f"{flags.describe()} (get_throttled {hex(flags.raw)} from {source})",
                 flags.fixes())
