"""``session_summary``: one event when a walk ends (or the stream does), for the wearer's diary."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from firmware_py.detection.detectors.motion import Motion
from firmware_py.events import SESSION_SUMMARY, Event
from firmware_py.detection.heading import UNKNOWN
from firmware_py.settings_checks import require_positive


@dataclass(frozen=True)
class SessionSettings:
    """When a walk is worth a summary and what counts as walking tilted.

    Attributes
    ----------
    min_walk_s : shortest walk worth a session_summary
    tilted_deg : trunk angle from upright beyond which walking time counts as tilted
    """

    min_walk_s: float = 10.0
    tilted_deg: float = 20.0

    def __post_init__(self) -> None:
        require_positive(self, prefix="session.")


class SessionTracker:
    """Accumulates one walk: duration, steps, cadence, stumbles, time tilted. :meth:`step` per frame."""

    def __init__(self, settings: SessionSettings = SessionSettings()) -> None:
        self.settings = settings
        self._start_t = math.nan
        self._start_steps = 0
        self._last_walking_t = math.nan
        self._last_steps = 0
        self._stumbles = 0
        self._tilted_s = 0.0
        self._prev_t = math.nan
        # per walking direction: steps, seconds, bouts
        self._bouts = {"forward": [0, 0.0, 0], "backward": [0, 0.0, 0], "unknown": [0, 0.0, 0]}

    def count_stumble(self) -> None:
        if self._start_t == self._start_t:
            self._stumbles += 1

    def count_bout(self, direction: str, steps: int, duration_s: float) -> bool:
        """A walking bout of this walk ended, walked ``direction`` (``forward``, ``backward`` or ``unknown``).
        False when no walk is going on."""
        if self._start_t != self._start_t:
            return False
        bout = self._bouts[direction]
        bout[0] += steps
        bout[1] += duration_s
        bout[2] += 1
        return True

    def tell_bout(self, direction: str, steps: int, duration_s: float) -> None:
        """A bout counted as ``unknown`` in this walk turned out to be walked ``direction``."""
        unknown = self._bouts[UNKNOWN]
        if self._start_t != self._start_t or unknown[2] == 0 or direction == UNKNOWN:
            return
        unknown[0] -= steps
        unknown[1] -= duration_s
        unknown[2] -= 1
        self.count_bout(direction, steps, duration_s)

    def step(self, mo: Motion, steps: int, walk_ended: bool) -> Optional[Event]:
        t = mo.t_s
        dt = t - self._prev_t if t > self._prev_t else 0.0
        self._prev_t = t
        if mo.is_walking:
            if self._start_t != self._start_t:
                self._start_t, self._start_steps = t, steps
                self._stumbles, self._tilted_s = 0, 0.0
                for bout in self._bouts.values():
                    bout[0], bout[1], bout[2] = 0, 0.0, 0
            self._last_walking_t, self._last_steps = t, steps
            if mo.tilt_deg > self.settings.tilted_deg:
                self._tilted_s += dt
        return self._close(t) if walk_ended else None

    def finish(self) -> Optional[Event]:
        return self._close(self._prev_t)

    def _close(self, t_detect: float) -> Optional[Event]:
        if self._start_t != self._start_t:
            return None
        duration = self._last_walking_t - self._start_t
        steps = self._last_steps - self._start_steps
        start = self._start_t
        self._start_t = math.nan
        if duration < self.settings.min_walk_s:
            return None
        return Event(SESSION_SUMMARY, t_onset_s=start, t_detect_s=t_detect, features={
            "duration_s": round(duration, 1),
            "steps": int(steps),
            "cadence_spm": round(60.0 * steps / duration, 1) if duration > 0 else 0.0,
            "stumbles": self._stumbles,
            "tilted_s": round(self._tilted_s, 1),
            "forward_steps": self._bouts["forward"][0],
            "backward_steps": self._bouts["backward"][0],
            "backward_s": round(self._bouts["backward"][1], 1),
            "forward_cadence_spm": _cadence(*self._bouts["forward"][:2]),
            "backward_cadence_spm": _cadence(*self._bouts["backward"][:2]),
            "direction_unknown_steps": self._bouts["unknown"][0],
            "bouts": {direction: bout[2] for direction, bout in self._bouts.items()},
        })


def _cadence(steps: int, duration_s: float) -> Optional[float]:
    return round(60.0 * steps / duration_s, 1) if duration_s > 0 else None
