"""Power: the battery (a gauge on the I2C bus, optional) and the Pi's under-voltage and throttling flags,
looked at every ``check_interval_s`` by a ``PowerMonitor`` the daemon's loop steps.

What the carer hears about (events, recorded like any other: buzzer first, then the outbox):

- ``battery_low`` once when the charge falls to ``low_percent`` off the charger (again only after it rose
  5 points above it, or the charger was on);
- ``power_fault`` when the firmware reports under-voltage (now; since boot when the daemon starts; or a dip
  that came and went between two looks, every 5 s);
- ``sensor_fault`` with ``features.sensor = "battery_gauge"`` when the configured gauge does not answer or
  keeps giving readings that cannot be right, and its ``recovered`` twin; retried with backoff meanwhile;
- ``shutting_down`` (critical) when the charge reaches ``critical_percent`` off the charger in two readings
  in a row: the daemon plays its pattern, publishes it (or keeps it in the outbox), stops in order after
  ``SHUTDOWN_GRACE_S``, and runs ``systemctl poweroff`` when ``poweroff = true``, so the Pi does not die
  mid-write when the cell cuts out.

Telemetry keys (Home Assistant entities are keyed on them): ``battery_percent``, ``battery_voltage_v``,
``battery_charging``, ``power_under_voltage``, ``power_throttled``; each only once it has been read.
A gauge that is not configured (``gauge = "none"``) and flags that do not exist (not a Pi) are not errors.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from hal.clock import Clock
from hal.errors import GaugeError, GaugeReadingError
from hal.throttle import ThrottleError, ThrottleFlags

from ..events import BATTERY_LOW, INFO, POWER_FAULT, SENSOR_FAULT, SHUTTING_DOWN, Event

log = logging.getLogger(__name__)

GAUGES = ("none", "ina219", "max17048")
#: where each gauge answers unless ``[power] address`` says otherwise
DEFAULT_ADDRESSES = {"ina219": 0x43, "max17048": 0x36}
#: how long the daemon keeps running after ``shutting_down``: its pattern (3 s) and the broker's PUBACK
SHUTDOWN_GRACE_S = 5.0
#: a low charge reading is confirmed this soon (a load spike sags the voltage for a moment)
CONFIRM_S = 5.0
LOW_HYSTERESIS_PERCENT = 5.0
#: the firmware's flags are cheap to read (a sysfs file), and under-voltage dips are short
FLAGS_INTERVAL_S = 5.0
#: after opening the gauge, its first reading (the INA219 averages 128 samples: 2 x 68 ms)
FIRST_READ_AFTER_S = 0.5
#: readings that cannot be right in a row before the gauge counts as faulty
BAD_READINGS_TO_FAULT = 3


@dataclass(frozen=True)
class PowerEmulatorSettings:
    """``[power.emulator]``: the emulated INA219's battery when ``[daemon] driver = "emulated"`` (synthetic).

    Attributes
    ----------
    start_percent : float
        Charge at start.
    drain_percent_per_min : float
        How fast it falls (tests drain it in minutes; a real cell lasts hours).
    charging : bool
        The charger is on all the time.
    """

    start_percent: float = 80.0
    drain_percent_per_min: float = 0.0
    charging: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.start_percent <= 100:
            raise ValueError(f"start_percent = {self.start_percent} is not allowed; use 0 to 100")
        if self.drain_percent_per_min < 0:
            raise ValueError(f"drain_percent_per_min = {self.drain_percent_per_min} is not allowed; use 0 or more")


@dataclass(frozen=True)
class PowerSettings:
    """``[power]``: the battery gauge and the power flags.

    Attributes
    ----------
    gauge : str
        ``none`` (no gauge: a Pi on a wall supply), ``ina219`` (the INA219 on a Pi Zero UPS HAT) or
        ``max17048`` (a MAX17048 fuel gauge board on the cell).
    bus : int
        The I2C bus the gauge is on.
    address : int, optional
        Where the gauge answers; unset: 0x43 for the INA219 (Waveshare's UPS HAT (C)), 0x36 for the MAX17048.
    shunt_ohms : float
        The gauge's shunt resistor (0.1 Ω on the common HATs).
    charging_sign : int
        1 when positive current means charging (Waveshare's HATs), -1 for a board wired the other way.
    check_interval_s : float
        How often the battery and the flags are read.
    low_percent, critical_percent : float
        ``battery_low`` at this charge; ``shutting_down`` and an orderly stop at that one.
    poweroff : bool
        After a critical-battery stop, run ``systemctl poweroff`` (the service user needs the right to:
        see docs/power.md).
    throttled_source : str
        Where the firmware's flags are read: ``auto`` (sysfs, else ``vcgencmd``, else nothing), ``none``,
        or a file path.
    retry_initial_s, retry_max_s : float
        Backoff while the gauge does not answer.
    """

    gauge: str = "none"
    bus: int = 1
    address: Optional[int] = None
    shunt_ohms: float = 0.1
    charging_sign: int = 1
    check_interval_s: float = 30.0
    low_percent: float = 20.0
    critical_percent: float = 5.0
    poweroff: bool = False
    throttled_source: str = "auto"
    retry_initial_s: float = 5.0
    retry_max_s: float = 300.0
    emulator: PowerEmulatorSettings = field(default_factory=PowerEmulatorSettings)

    def __post_init__(self) -> None:
        if self.gauge not in GAUGES:
            raise ValueError(f"gauge = {self.gauge!r} is not allowed; use one of {', '.join(GAUGES)}")
        if self.address is not None and not 0x03 <= self.address <= 0x77:
            raise ValueError(f"address = {self.address} is not allowed; use an I2C address from 0x03 to 0x77 "
                             f"(the INA219: 0x40 to 0x4f)")
        if not 0.001 <= self.shunt_ohms <= 10:
            raise ValueError(f"shunt_ohms = {self.shunt_ohms} is not allowed; use 0.001 to 10 (0.1 on most HATs)")
        if self.charging_sign not in (1, -1):
            raise ValueError(f"charging_sign = {self.charging_sign} is not allowed; use 1 or -1")
        if not 1 <= self.check_interval_s <= 600:
            raise ValueError(f"check_interval_s = {self.check_interval_s} is not allowed; use 1 to 600")
        if not 0 <= self.critical_percent < self.low_percent <= 100:
            raise ValueError(f"low_percent = {self.low_percent}, critical_percent = {self.critical_percent} are "
                             f"not allowed; use 0 <= critical_percent < low_percent <= 100")
        if not 0 < self.retry_initial_s <= self.retry_max_s:
            raise ValueError(f"retry_initial_s = {self.retry_initial_s} is not allowed; use a positive value no "
                             f"larger than retry_max_s ({self.retry_max_s})")
        if isinstance(self.emulator, dict):  # a loader handing over the raw subtable
            object.__setattr__(self, "emulator", PowerEmulatorSettings(**self.emulator))

    @property
    def gauge_address(self) -> int:
        """``address``, or the gauge's own default."""
        return self.address if self.address is not None else DEFAULT_ADDRESSES.get(self.gauge, 0)


class PowerMonitor:
    """The battery and the power flags as the loop sees them (see the module docstring).

    Parameters
    ----------
    open_gauge : callable or None
        Opens the gauge (``hal.ina219.Ina219``-like: ``read()`` -> ``BatteryReading``, ``close()``); ``None``
        without one.
    throttle : ThrottleSource or None
    clock : Clock
    settings : PowerSettings
    power_off : callable
        Runs ``systemctl poweroff``; called by ``close()`` only after a critical-battery stop with
        ``poweroff = true``.
    """

    def __init__(self, open_gauge: Optional[Callable[[], Any]], throttle: Any, clock: Clock,
                 settings: PowerSettings = PowerSettings(), power_off: Optional[Callable[[], None]] = None) -> None:
        self.open_gauge = open_gauge
        self._throttle = throttle
        self._clock = clock
        self.settings = settings
        self._power_off = power_off
        self.gauge: Any = None
        self.reading: Any = None  # the last good BatteryReading
        self.flags: Optional[ThrottleFlags] = None
        self.gauge_error: Optional[str] = None
        self._gauge_lost_s: Optional[float] = None
        self._bad_readings = 0
        self._backoff_s = settings.retry_initial_s
        self._gauge_due_s = clock.monotonic()
        self._flags_due_s = clock.monotonic()
        self._throttle_failed = False
        self._low_announced = False
        self._critical_seen = False
        self.shutdown: Optional[Event] = None
        self.stop_at_s = math.inf
        self._closed = False

    # ---- the loop's side -----------------------------------------------------------------------------------
    def next_due_s(self) -> float:
        due = [self.stop_at_s]
        if self.open_gauge is not None:
            due.append(self._gauge_due_s)
        if self._throttle is not None and not self._throttle_failed:
            due.append(self._flags_due_s)
        return min(due)

    def step(self) -> List[Event]:
        """Read what is due; returns the events to record."""
        now = self._clock.monotonic()
        events: List[Event] = []
        if self._throttle is not None and not self._throttle_failed and now >= self._flags_due_s:
            self._flags_due_s = now + min(FLAGS_INTERVAL_S, self.settings.check_interval_s)
            events += self._check_flags(now)
        if self.open_gauge is not None and now >= self._gauge_due_s and self.shutdown is None:
            events += self._check_battery(now)
        return events

    @property
    def stop_due(self) -> bool:
        """A critical-battery stop is due now."""
        return self._clock.monotonic() >= self.stop_at_s

    def telemetry(self) -> Dict[str, Any]:
        payload: Dict[str, Any] = {}
        if self.reading is not None:
            payload.update(battery_percent=round(self.reading.percent), battery_voltage_v=self.reading.voltage_v,
                           battery_charging=self.reading.charging)
        if self.flags is not None:
            payload.update(power_under_voltage=self.flags.under_voltage, power_throttled=self.flags.throttled)
        return payload

    def status_text(self) -> Optional[str]:
        """A part of the status line, or None when there is nothing to say."""
        if self.shutdown is not None:
            return f"battery critical ({self.shutdown.features.get('battery_percent')} %): shutting down"
        if self.gauge_error is not None:
            return "battery gauge fault"
        if self.reading is not None:
            return f"battery {round(self.reading.percent)} %" + (" charging" if self.reading.charging else "")
        return None

    def close(self) -> None:
        """Let go of the gauge; after a critical-battery stop with ``poweroff = true``, power the Pi off."""
        if self._closed:
            return
        self._closed = True
        self._close_gauge()
        if self.shutdown is not None and self.settings.poweroff and self._power_off is not None:
            log.warning("battery critical: powering the Pi off")
            self._power_off()

    # ---- the flags -----------------------------------------------------------------------------------------
    def _check_flags(self, now: float) -> List[Event]:
        try:
            flags = self._throttle.read()
        except ThrottleError as exc:
            self._throttle_failed = True  # a Pi without the interface will not grow one: say it once
            log.warning("power flags: %s; not read again until restart", exc)
            return []
        first, before = self.flags is None, self.flags
        self.flags = flags
        if flags.under_voltage and (first or not before.under_voltage):
            state = "now"
        elif flags.occurred(0) and (first or not before.occurred(0)):
            state = "since_boot" if first else "between_checks"  # a dip shorter than the interval
        else:
            return []
        log.warning("power: %s", flags.describe())
        return [Event(POWER_FAULT, t_onset_s=now, t_detect_s=now,
                      features={"under_voltage": state, "flags": flags.describe(), "raw": hex(flags.raw),
                                "fix": flags.fixes()})]

    # ---- the battery ---------------------------------------------------------------------------------------
    def _check_battery(self, now: float) -> List[Event]:
        events: List[Event] = []
        try:
            if self.gauge is None:
                self.gauge = self.open_gauge()
                self._gauge_due_s = now + FIRST_READ_AFTER_S  # its first conversion takes 0.14 s
                return events
            reading = self.gauge.read()
        except GaugeError as exc:
            return self._gauge_failed(now, exc)
        self._bad_readings = 0
        self._backoff_s = self.settings.retry_initial_s
        if self._gauge_lost_s is not None:
            events.append(self._gauge_event(now, "recovered", severity=INFO,
                                            outage_s=round(now - self._gauge_lost_s, 1)))
            self._gauge_lost_s, self.gauge_error = None, None
        self.reading = reading
        self._gauge_due_s = now + self.settings.check_interval_s
        charge = {"battery_percent": round(reading.percent, 1), "battery_voltage_v": reading.voltage_v}
        if reading.charging or reading.percent >= self.settings.low_percent + LOW_HYSTERESIS_PERCENT:
            self._low_announced = False
        if reading.charging or reading.percent > self.settings.critical_percent:
            self._critical_seen = False
        elif not self._critical_seen:  # one reading could be a load spike: look again soon
            self._critical_seen = True
            self._gauge_due_s = now + CONFIRM_S
        else:
            log.error("battery critical (%.0f %%): shutting down", reading.percent)
            self.shutdown = Event(SHUTTING_DOWN, t_onset_s=now, t_detect_s=now,
                                  features={"reason": "battery_critical", **charge,
                                            "critical_percent": self.settings.critical_percent,
                                            "poweroff": self.settings.poweroff})
            self.stop_at_s = now + SHUTDOWN_GRACE_S
            return events + [self.shutdown]
        if not reading.charging and reading.percent <= self.settings.low_percent and not self._low_announced:
            self._low_announced = True
            events.append(Event(BATTERY_LOW, t_onset_s=now, t_detect_s=now,
                                features={**charge, "low_percent": self.settings.low_percent}))
        return events

    def _gauge_failed(self, now: float, exc: GaugeError) -> List[Event]:
        self._gauge_due_s = now + self._backoff_s
        self._backoff_s = min(2 * self._backoff_s, self.settings.retry_max_s)
        if isinstance(exc, GaugeReadingError):
            self._bad_readings += 1
            if self._bad_readings < BAD_READINGS_TO_FAULT:
                log.warning("battery gauge: %s; reading again", exc)
                return []
        else:
            self._close_gauge()  # re-opened at the next try
        self.gauge_error = str(exc)
        if self._gauge_lost_s is not None:
            log.debug("battery gauge still faulty: %s", exc)
            return []
        log.error("battery gauge: %s; retrying with backoff", exc)
        self._gauge_lost_s = now
        self.reading = None
        return [self._gauge_event(now, "lost", error=str(exc)[:300], error_type=type(exc).__name__)]

    def _gauge_event(self, now: float, state: str, severity: str = "", **features: Any) -> Event:
        return Event(SENSOR_FAULT, t_onset_s=now, t_detect_s=now, severity=severity,
                     features={"sensor": "battery_gauge", "state": state, **features})

    def _close_gauge(self) -> None:
        gauge, self.gauge = self.gauge, None
        if gauge is not None:
            try:
                gauge.close()
            except Exception as exc:  # closing a gauge that already vanished: nothing left to protect
                log.debug("closing the battery gauge failed: %s", exc)
