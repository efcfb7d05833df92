"""After a fall: ``help_needed`` when the wearer lies still, ``recovered`` when they are up again.

After a ``fall`` (or a ``loss_of_balance``), the detector watches the posture:

* lying (tilt ≥ ``lying_deg``) and still for ``help_after_s`` without a break → one ``help_needed``;
* upright (tilt < ``upright_deg``) and moving for ``recovered_s`` → ``recovered``, and the episode ends.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from firmware_py.detectors.motion import Motion
from firmware_py.events import FALL, HELP_NEEDED, RECOVERED, Event


@dataclass(frozen=True)
class StillnessSettings:
    """When lying still becomes ``help_needed`` and when the wearer counts as ``recovered``.

    Attributes
    ----------
    help_after_s : lying still this long after a fall raises help_needed (once)
    lying_deg : tilt that counts as lying
    upright_deg : tilt under which the wearer counts as up again
    recovered_s : up and moving this long after a fall or loss_of_balance raises recovered
    """

    help_after_s: float = 30.0
    lying_deg: float = 50.0
    upright_deg: float = 30.0
    recovered_s: float = 2.0

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"stillness.{name} = {value!r} is not allowed; use a positive number")


class StillnessDetector:
    """Watches the wearer after a fall; see the module docstring. :meth:`step` once per frame."""

    def __init__(self, settings: StillnessSettings = StillnessSettings()) -> None:
        self.settings = settings
        self._episode_t = math.nan       # detection time of the fall / loss of balance (NaN: none)
        self._was_fall = False
        self._still_since = math.nan
        self._upright_since = math.nan
        self._help_sent = False

    @property
    def in_episode(self) -> bool:
        return self._episode_t == self._episode_t

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
            return None
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
