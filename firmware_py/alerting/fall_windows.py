"""Every fall's own cancel window, and its one ``help_needed``: the bookkeeping behind ``AlertManager``.

A fall opens a window of ``cancel_window_s``; a cancel ("I'm OK") closes every open one; a window that runs out
is overdue and gets its ``help_needed`` (raised by the manager), unless the detector's stillness check gave the
newest fall one first. A fall stays open while not cancelled and either within ``help_dedupe_s`` of its start
or still waiting for its escalation; past that it is forgotten.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional

from ..events import Event
from .alarm_patterns import reached


@dataclass
class FallWindow:
    """A fall, from detection until cancelled; remembers whether help was already raised for it."""

    fall: Event
    opened_s: float
    is_cancelled: bool = False
    help_event: Optional[Event] = None

    @property
    def help_event_id(self) -> Optional[str]:
        return self.help_event.id if self.help_event is not None else None


class FallWindows:
    """The falls' windows, oldest first; times are the manager's clock."""

    def __init__(self, cancel_window_s: float, help_dedupe_s: float) -> None:
        self.cancel_window_s = cancel_window_s
        self.help_dedupe_s = help_dedupe_s
        self._windows: List[FallWindow] = []

    def open(self, fall: Event, now_s: float, help_event: Optional[Event] = None) -> None:
        """A new fall's window, however close to the last one (``help_event`` when taken up after a restart)."""
        self._windows.append(FallWindow(fall, now_s, help_event=help_event))

    def take_detector_help(self, event: Event) -> bool:
        """The detector's stillness check belongs to the newest fall; False if that fall already has its
        ``help_needed`` (from its window or the detector), so this one is dropped."""
        newest = self._windows[-1] if self._windows else None
        if newest is None:
            return True
        if newest.help_event_id is not None:
            return False
        newest.help_event = event
        return True

    def open_falls(self, now_s: float) -> List[FallWindow]:
        """Falls not cancelled, and either within help_dedupe_s or still waiting for their escalation."""
        return [w for w in self._windows if not w.is_cancelled
                and (now_s - w.opened_s <= self.help_dedupe_s or w.help_event_id is None)]

    def forget_old(self, now_s: float) -> None:
        # a fall still waiting for its escalation is never forgotten; the rest after help_dedupe_s
        self._windows = [w for w in self._windows if now_s - w.opened_s <= self.help_dedupe_s
                         or (w.help_event_id is None and not w.is_cancelled)]

    def overdue(self, now_s: float) -> List[FallWindow]:
        """Windows run out without a cancel and without a ``help_needed`` yet."""
        return [w for w in self._windows if not w.is_cancelled and w.help_event_id is None
                and reached(now_s - w.opened_s, self.cancel_window_s)]

    def cancel_open(self, now_s: float) -> List[FallWindow]:
        """"I'm OK" answers every open fall: they are cancelled and returned, oldest first."""
        windows = self.open_falls(now_s)
        for window in windows:
            window.is_cancelled = True
        return windows

    def next_due_s(self, now_s: float) -> float:
        """A window's end (its escalation), or a fall ceasing to be open (the LED goes off); ``inf`` if none."""
        due = [math.inf]
        for window in self._windows:
            if window.is_cancelled:
                continue
            if window.help_event_id is None:
                due.append(window.opened_s + self.cancel_window_s)  # escalation sets help_event
            led_off_s = window.opened_s + self.help_dedupe_s
            if led_off_s > now_s:  # nothing changes when it passes but the LED: past it, it is no deadline
                due.append(led_off_s)
        return min(due)
