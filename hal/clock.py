"""Time for the parts that are driven by it (driver deadlines, alerts, outbox retries, watchdog).

Signal processing never reads a clock: it uses the samples' own ``t_s``.
"""
from __future__ import annotations

import threading
import time
from typing import Protocol


class Stop(Protocol):
    """What a loop sleeps on: ``set()`` from anywhere ends its wait at once (``threading.Event`` is one)."""

    def is_set(self) -> bool:
        ...

    def set(self) -> None:
        ...

    def wait(self, timeout: float) -> bool:
        ...


class StopFlag:
    """A one-way stop for a loop that sleeps between wakes: ``set()`` (from a signal handler or any thread)
    ends the current and every later ``wait`` at once.

    It does what ``threading.Event`` does for this one use, with a single lock acquire per wait: the daemon
    waits 20 times a second, and ``Event.wait``'s condition-variable bookkeeping (a new lock and a waiter
    list each time) cost about as much as the wait itself on a CPU that had just slept (bench/daemon.py).
    """

    def __init__(self) -> None:
        self._set = False
        self._until_set = threading.Lock()
        self._until_set.acquire()        # held until set(): a wait blocks on it

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        if self._set:
            return
        self._set = True
        try:
            self._until_set.release()
        except RuntimeError:            # two set() at the same instant: the other one released it
            pass

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds, less once set; True if set."""
        if self._set:
            return True
        if self._until_set.acquire(timeout=max(0.0, timeout)):
            try:
                self._until_set.release()   # stays released: later waits return at once
            except RuntimeError:            # two set() at once, from two threads, released it again meanwhile
                pass
        return self._set


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds from an arbitrary origin; never goes backwards."""
        ...

    def sleep(self, seconds: float) -> None:
        ...

    def wait(self, stop: Stop, seconds: float) -> bool:
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

    def wait(self, stop: Stop, seconds: float) -> bool:
        return stop.wait(max(0.0, seconds))


class FakeClock:
    """Virtual time for tests and faster-than-real-time runs: ``sleep`` and ``advance`` move it, nothing waits."""

    def __init__(self, start_s: float = 1000.0) -> None:
        self._now_s = float(start_s)

    def monotonic(self) -> float:
        return self._now_s

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def wait(self, stop: Stop, seconds: float) -> bool:
        if not stop.is_set():
            self.advance(max(0.0, seconds))
        return stop.is_set()

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a clock cannot go backwards (advance by {seconds} s)")
        self._now_s += seconds

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now_s:.6f})"
