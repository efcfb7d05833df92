"""Time for the parts that are driven by it (driver deadlines, alerts, outbox retries, watchdog).

Signal processing never reads a clock: it uses the samples' own ``t_s``.
"""
from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds from an arbitrary origin; never goes backwards."""
        ...

    def sleep(self, seconds: float) -> None:
        ...

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        """Wait ``seconds`` of this clock's time, or less if ``stop`` is set meanwhile; True if it is set.

        The clock says how long a wait lasts: real seconds for the real clock, none for virtual time.
        """
        ...


class MonotonicClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        return stop.wait(max(0.0, seconds))


class FakeClock:
    """Virtual time for tests and faster-than-real-time runs: ``sleep`` and ``advance`` move it, nothing waits."""

    def __init__(self, start_s: float = 1000.0) -> None:
        self._now_s = float(start_s)

    def monotonic(self) -> float:
        return self._now_s

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        if not stop.is_set():
            self.advance(max(0.0, seconds))
        return stop.is_set()

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a clock cannot go backwards (advance by {seconds} s)")
        self._now_s += seconds

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now_s:.6f})"
