"""After a fall: ``help_needed`` when the wearer lies still, ``recovered`` when they are up again; and the
long lie, ``help_needed`` with no fall seen at all.

After a ``fall`` (or a ``loss_of_balance``), the detector watches the posture:

* lying (tilt ≥ ``lying_deg``) and still for ``help_after_s`` without a break → one ``help_needed``;
* upright (tilt < ``upright_deg``) and moving for ``recovered_s`` → ``recovered``, and the episode ends.

Outside such an episode, lying still (tilt ≥ ``long_lie_deg``) for ``long_lie_s`` (a fall the detectors missed, a faint, a wearer found
on the floor by a daemon that just started) → one ``help_needed`` with ``reason: long_lie``; movements shorter
than ``LIE_MOVE_S`` (trying to get up, a cough) do not restart the count, getting up does.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from firmware_py.detection.detectors.motion import Motion
from firmware_py.events import FALL, HELP_NEEDED, RECOVERED, Event
from firmware_py.settings_checks import require_positive

#: movement while lying shorter than this does not restart the long-lie count
LIE_MOVE_S = 2.0
LONG_LIE = "long_lie"


def long_lie_event(lying_since_s: float, t_s: float, **features: float) -> Event:
    """The ``help_needed`` of a long lie (also raised by the pipeline before the mounting is known)."""
    return Event(HELP_NEEDED, t_onset_s=lying_since_s, t_detect_s=t_s,
                 features={"reason": LONG_LIE, "lying_s": round(t_s - lying_since_s, 1), **features})


@dataclass(frozen=True)
class StillnessSettings:
    """When lying still becomes ``help_needed`` and when the wearer counts as ``recovered``.

    Attributes
    ----------
    help_after_s : lying still this long after a fall raises help_needed (once)
    lying_deg : tilt that counts as lying
    upright_deg : tilt under which the wearer counts as up again
    recovered_s : up and moving this long after a fall or loss_of_balance raises recovered
    long_lie_s : lying still this long with no fall seen (also right after a start) raises help_needed (long_lie)
    long_lie_deg : tilt that counts as lying for the long lie: flatter than after a fall, so that resting in a
        reclined armchair is not a long lie
    """

    help_after_s: float = 30.0
    lying_deg: float = 50.0
    upright_deg: float = 30.0
    recovered_s: float = 2.0
    long_lie_s: float = 120.0
    long_lie_deg: float = 70.0

    def __post_init__(self) -> None:
        require_positive(self, prefix="stillness.")
        for name, low, high in (("help_after_s", 1.0, 3600.0), ("long_lie_s", 10.0, 3600.0),
                                ("recovered_s", 0.1, 600.0), ("lying_deg", 1.0, 90.0), ("upright_deg", 1.0, 90.0),
                                ("long_lie_deg", 30.0, 90.0)):
            value = getattr(self, name)
            if not low <= value <= high:
                raise ValueError(f"stillness.{name} = {value!r} is not allowed; use {low:g} to {high:g}")


class StillnessDetector:
    """Watches the wearer after a fall; see the module docstring. :meth:`step` once per frame."""

    def __init__(self, settings: StillnessSettings = StillnessSettings()) -> None:
        self.settings = settings
        self._episode_t = math.nan       # detection time of the fall / loss of balance (NaN: none)
        self._was_fall = False
        self._still_since = math.nan
        self._upright_since = math.nan
        self._help_sent = False
        self._lying_since = math.nan   # long lie: when the current lie began (NaN: not lying)
        self._moving_since = math.nan  # long lie: when the current movement began
        self._long_lie_sent = False

    @property
    def in_episode(self) -> bool:
        return self._episode_t == self._episode_t

    @property
    def watching(self) -> bool:
        """A fall episode or a lie is being watched here, with its own ``help_needed``."""
        return self.in_episode or self._lying_since == self._lying_since

    def start(self, alarm: Event) -> None:
        """A fall or loss of balance was just raised: watch what follows."""
        is_fall = alarm.type == FALL
        if self.in_episode and not is_fall:
            return                               # a second warning inside an episode changes nothing
        if not (self.in_episode and self._was_fall):
            self._help_sent = False
        self._episode_t = alarm.t_detect_s
        self._was_fall = self._was_fall or is_fall
        self._still_since = self._upright_since = math.nan

    def step(self, mo: Motion) -> Optional[Event]:
        if self._episode_t != self._episode_t:
            return self._long_lie(mo)
        self._lying_since = math.nan  # an episode has its own help_needed
        s = self.settings
        t = mo.t_s
        tilt = mo.tilt_deg
        if tilt >= s.lying_deg and mo.is_still:
            if self._still_since != self._still_since:
                self._still_since = t
            if not self._help_sent and t - self._still_since >= s.help_after_s:
                self._help_sent = True
                return Event(HELP_NEEDED, t_onset_s=self._episode_t, t_detect_s=t, features={
                    "still_s": round(t - self._still_since, 1), "tilt_deg": round(tilt, 1)})
        else:
            self._still_since = math.nan
        if tilt < s.upright_deg and not mo.is_still:
            if self._upright_since != self._upright_since:
                self._upright_since = t
            if t - self._upright_since >= s.recovered_s:
                event = Event(RECOVERED, t_onset_s=self._upright_since, t_detect_s=t, features={
                    "tilt_deg": round(tilt, 1), "down_s": round(self._upright_since - self._episode_t, 1)})
                self._episode_t = math.nan
                self._was_fall = False
                return event
        elif tilt >= s.upright_deg:
            self._upright_since = math.nan
        return None

    def _long_lie(self, mo: Motion) -> Optional[Event]:
        s, t = self.settings, mo.t_s
        if mo.tilt_deg < s.long_lie_deg:
            self._lying_since = self._moving_since = math.nan
            self._long_lie_sent = False
            return None
        if self._lying_since != self._lying_since:
            self._lying_since = t
        if mo.is_still:
            self._moving_since = math.nan
        elif self._moving_since != self._moving_since:
            self._moving_since = t
        elif t - self._moving_since > LIE_MOVE_S:  # moving about while lying (floor exercise): start again
            self._lying_since, self._moving_since = t, math.nan
            self._long_lie_sent = False
            return None
        if not self._long_lie_sent and mo.is_still and t - self._lying_since >= s.long_lie_s:
            self._long_lie_sent = True
            return long_lie_event(self._lying_since, t, tilt_deg=round(mo.tilt_deg, 1))
        return None
