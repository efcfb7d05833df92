"""The sensor as the main loop sees it: faults a re-open can fix become one event and a retry schedule."""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any, Callable, List, Optional, Tuple

from hal.clock import Clock
from hal.errors import SensorBusError, SensorNotFound, SensorTimeout
from hal.types import SampleBlock

from ..atomic_file import exists
from ..events import INFO, SENSOR_FAULT, Event
from .settings import DaemonSettings

log = logging.getLogger(__name__)

#: faults a re-open can fix: the daemon retries them with backoff instead of exiting
RECOVERABLE_SENSOR_ERRORS = (SensorBusError, SensorNotFound, SensorTimeout)


class SensorLink:
    """The sensor as the loop sees it: faults a re-open can fix become one event and a retry schedule.

    ``read()`` returns the block (``None`` while the sensor is away) and the ``sensor_fault`` events to
    record: one when the sensor is lost (a bus error, the chip gone, or no samples for ``sensor_stall_s`` —
    a chip that stopped sampling is re-initialised like a vanished one), and one with severity ``info`` and
    ``features["state"] == "recovered"`` when samples flow again. Retries in between are counted, not
    announced. ``SensorIdentityError`` (a different chip) is not caught: a restart cannot fix it.

    While the sensor is away the watchdog is not pinged, so systemd restarts the daemon every
    ``WatchdogSec`` + ``RestartSec``. ``fault_marker`` (a file in the state dir) carries an announced outage
    across those restarts: a carer gets one ``lost`` and one ``recovered`` for an unplugged cable, not a
    ``lost`` every fifteen seconds.
    """

    def __init__(self, open_sensor: Callable[[], Any], clock: Clock, settings: DaemonSettings,
                 fault_marker: Optional[Path] = None) -> None:
        self._open_sensor = open_sensor
        self._clock = clock
        self._settings = settings
        self.sensor: Any = None
        self.error: Optional[str] = None  # the current fault, in words; None while samples flow
        self.attempts = 0  # re-opens since the fault began
        self._lost_at_s: Optional[float] = None
        self._retry_at_s = -math.inf
        self._backoff_s = settings.sensor_retry_initial_s
        self._last_sample_s = clock.monotonic()
        self._fault_marker = Path(fault_marker) if fault_marker is not None else None

    @property
    def is_ok(self) -> bool:
        return self._lost_at_s is None

    def retry_in_s(self) -> float:
        return max(0.0, self._retry_at_s - self._clock.monotonic())

    def open(self) -> List[Event]:
        """Open the sensor (at start); a sensor that does not answer is a fault to retry, not a crash."""
        return self._open(self._clock.monotonic()) if self.sensor is None else []

    def read(self) -> Tuple[Optional[SampleBlock], List[Event]]:
        now = self._clock.monotonic()
        if self.sensor is None:
            if now < self._retry_at_s:
                return None, []
            lost = self._open(now)
            if self.sensor is None:
                return None, lost
        try:
            block = self.sensor.read()
        except RECOVERABLE_SENSOR_ERRORS as exc:
            return None, self._lose(exc)
        if len(block):
            self._last_sample_s = now
            return block, self._recovered(now)
        stalled_s = now - self._last_sample_s
        if stalled_s > self._settings.sensor_stall_s:
            return block, self._lose(SensorTimeout(
                f"the MPU-6050 gave no samples for {stalled_s:.1f} s (FIFO not filling); re-initialising it"))
        return block, []

    def _open(self, now: float) -> List[Event]:
        self.attempts += 1
        try:
            self.sensor = self._open_sensor()
        except RECOVERABLE_SENSOR_ERRORS as exc:
            return self._lose(exc)
        self._last_sample_s = now  # the stall timer starts again with the fresh driver
        return []

    def _recovered(self, now: float) -> List[Event]:
        if self._lost_at_s is None:
            return []
        outage_s = now - self._lost_at_s
        log.warning("sensor gives samples again after %.1f s (%d re-opens)", outage_s, self.attempts)
        event = Event(SENSOR_FAULT, t_onset_s=now, t_detect_s=now, severity=INFO,
                      features={"state": "recovered", "outage_s": round(outage_s, 3), "attempts": self.attempts})
        self._lost_at_s, self.error, self.attempts = None, None, 0
        self._backoff_s = self._settings.sensor_retry_initial_s
        if self._fault_marker is not None:
            try:
                self._fault_marker.unlink(missing_ok=True)
            except OSError as exc:  # a read-only state dir: a restart may announce the old outage again
                log.warning("cannot remove %s (%s)", self._fault_marker, exc)
        return [event]

    def _lose(self, exc: Exception) -> List[Event]:
        self._close_sensor()
        now = self._clock.monotonic()
        self.error = str(exc)
        self._retry_at_s = now + self._backoff_s
        self._backoff_s = min(self._backoff_s * 2, self._settings.sensor_retry_max_s)
        if self._lost_at_s is not None:
            log.debug("sensor still away (re-open %d): %s", self.attempts, exc)
            return []
        self._lost_at_s = now
        self.attempts = 0
        if self._fault_marker is not None and exists(self._fault_marker):
            log.error("sensor still lost since before this start (%s); retrying with backoff", exc)
            return []
        log.error("sensor lost: %s; retrying with backoff", exc)
        event = Event(SENSOR_FAULT, t_onset_s=now, t_detect_s=now,
                      features={"state": "lost", "error": self.error[:300], "error_type": type(exc).__name__})
        self._mark_announced(event)
        return [event]

    def _mark_announced(self, event: Event) -> None:
        if self._fault_marker is None:
            return
        try:
            self._fault_marker.write_text(json.dumps({"event_id": event.id, "error": self.error}))
        except OSError as exc:  # a full or read-only state dir: the worst case is a repeated announcement
            log.warning("cannot note the sensor fault in %s (%s); a restart will announce it again",
                        self._fault_marker, exc)

    def _close_sensor(self) -> None:
        sensor, self.sensor = self.sensor, None
        if sensor is not None:
            try:
                sensor.close()
            except Exception as exc:  # closing a sensor that already vanished: nothing left to protect
                log.debug("closing the lost sensor failed: %s", exc)

    def close(self) -> None:
        self._close_sensor()
