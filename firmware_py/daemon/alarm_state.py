"""``alarms.json`` in the state dir: the alarms a restart must not forget (a fall's cancel window, a pending or
sounding ``help_needed``, an SOS), written atomically whenever they change.

The alert manager's times are monotonic, and a monotonic clock starts again at a restart (or a reboot), so the
file keeps wall time: when it is saved (``saved_wall``) and every time in it as of then. Loading moves them onto
the new run's clock with one offset, so a cancel window that had 10 s left when the daemon died has
10 s minus the downtime left after the restart. If the wall clock is behind the file's (a Pi without a
real-time clock, before NTP), the time since the last save counts as zero: the window then runs again from
when the file was written (for a fall: its detection), later rather than never.

The disk is not on the alarm path: a file that cannot be written is logged once and the state stays in memory
(the alert manager holds it anyway); a restart then cannot resume it. A file that cannot be read is logged and
ignored.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Optional

from hal.clock import Clock

from ..atomic_file import write_atomically
from ..events import iso_utc

log = logging.getLogger(__name__)

FILE_NAME = "alarms.json"
VERSION = 1
#: after a failed write, the next try (a full or read-only card refuses quickly, but not every 50 ms)
RETRY_S = 1.0
#: down longer than this, the saved alarms are stale and not resumed: a restart (crash, watchdog, power blip)
#: is back within seconds; a device switched on hours or days later must not sound a fall the wearer may have
#: cancelled long ago (the events themselves went out, or wait in the outbox; a wearer still on the floor is
#: caught by the long lie)
RESUME_MAX_DOWN_S = 600.0


def _events(state: Dict[str, Any]) -> Iterator[Dict[str, Any]]:
    for incident in state.get("incidents") or []:
        yield incident["fall"]
        if incident.get("help"):
            yield incident["help"]
    if state.get("sounding"):
        yield state["sounding"]["event"]


def _shift(state: Dict[str, Any], offset_s: float) -> Dict[str, Any]:
    """Every monotonic time in ``state`` plus ``offset_s`` (a copy)."""
    state = json.loads(json.dumps(state))
    for incident in state.get("incidents") or []:
        incident["opened_s"] = float(incident["opened_s"]) + offset_s
    for event in _events(state):
        event["t_onset_s"] = float(event["t_onset_s"]) + offset_s
        event["t_detect_s"] = float(event["t_detect_s"]) + offset_s
    return state


class AlarmStateFile:
    """Saves and loads the alert manager's ``pending_alarms()`` in ``state_dir/alarms.json``."""

    def __init__(self, state_dir: Path, clock: Clock, wall_clock: Callable[[], float] = time.time) -> None:
        self.path = Path(state_dir) / FILE_NAME
        self.clock = clock
        self.wall_clock = wall_clock
        self._last: Optional[Dict[str, Any]] = None
        self._failing = False
        self._retry_at_s = -float("inf")

    def save_if_changed(self, pending: Dict[str, Any]) -> None:
        """Write ``pending`` (from ``AlertManager.pending_alarms``) when it differs from what was saved."""
        if pending == self._last or (self._failing and self.clock.monotonic() < self._retry_at_s):
            return
        try:
            if pending:
                self._write(pending)
            else:
                self.path.unlink(missing_ok=True)
        except OSError as exc:
            if not self._failing:
                log.error("cannot save the pending alarms to %s (%s): they are kept in memory only, so a restart "
                          "now would not resume them", self.path, exc)
            self._failing = True
            self._retry_at_s = self.clock.monotonic() + RETRY_S
            return  # tried again in RETRY_S (_last unchanged), not at every step of the loop
        if self._failing:
            log.warning("pending alarms saved to %s again", self.path)
        self._failing = False
        self._last = pending

    def _write(self, pending: Dict[str, Any]) -> None:
        mono, wall = self.clock.monotonic(), self.wall_clock()
        state = json.loads(json.dumps(pending))
        for event in _events(state):
            if event.get("time") is None:  # raised by the alert manager: no wall time yet
                onset_wall = wall - (mono - float(event["t_onset_s"]))
                event["time"] = iso_utc(onset_wall)
        write_atomically(self.path, json.dumps({"version": VERSION, "saved_wall": wall, "saved_mono": mono,
                                                "pending": state}, sort_keys=True) + "\n")

    def load(self) -> Dict[str, Any]:
        """What the last run left pending, on this run's clock; ``{}`` when nothing (or the file is unreadable)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            log.error("cannot read the pending alarms in %s (%s); starting without them", self.path, exc)
            return {}
        try:
            saved = json.loads(text)
            down_s = self.wall_clock() - float(saved["saved_wall"])
            if down_s < 0:
                log.warning("the wall clock is %.0f s behind the time %s was saved: counting no downtime",
                            -down_s, self.path)
                down_s = 0.0
            if down_s > RESUME_MAX_DOWN_S:
                log.warning("the pending alarms in %s are %.0f s old (more than %.0f s): not resumed",
                            self.path, down_s, RESUME_MAX_DOWN_S)
                return {}
            offset_s = self.clock.monotonic() - down_s - float(saved["saved_mono"])
            pending = _shift(saved["pending"], offset_s)
            list(_events(pending))  # every event present
        except (ValueError, KeyError, TypeError) as exc:
            log.error("%s is not a pending-alarm file this retrowalk can read (%s); starting without it",
                      self.path, exc)
            return {}
        self._last = None  # whatever the manager makes of it is saved afresh
        return pending
