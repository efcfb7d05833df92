"""``ScaledClock``: monotonic time running faster than real time, for the demo's ``--speed``."""
from __future__ import annotations

import time
from typing import Optional

from hal.clock import Stop


class ScaledClock:
    """Monotonic time running ``speed`` times faster than real time (the demo's ``--speed``).

    The emulated chip, the alerts and the loop all take this clock, so samples, buzzer patterns and the
    cancel window stay consistent with each other while the whole run goes faster.
    """

    def __init__(self, speed: float = 1.0, start_s: Optional[float] = None) -> None:
        if not speed > 0:
            raise ValueError(f"speed = {speed} is not allowed; use a positive number (1 = real time)")
        self.speed = float(speed)
        self._real0 = time.monotonic()
        self._start_s = self._real0 if start_s is None else float(start_s)

    def monotonic(self) -> float:
        return self._start_s + (time.monotonic() - self._real0) * self.speed

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speed)

    def wait(self, stop: Stop, seconds: float) -> bool:
        return stop.wait(max(0.0, seconds) / self.speed)
