"""``loss_of_balance``: a fall starting, recognised before the impact.

A fall is the trunk tipping over while the waist accelerates downwards. The detector fires when, within
``upright_within_s`` of the wearer being upright, the waist is moving down and the trunk is tipping --
with **direction-dependent thresholds**, because balance is lost at a much smaller angle backwards
(about 10° of trunk extension) than forwards (about 24°), and slow backward slips can stay under the
classic 140 °/s trunk-rate thresholds:

* backwards: lean back > ``backward_tilt_deg``, tipping back faster than ``backward_rate_dps`` and going
  down faster than ``backward_speed_m_s``;
* forwards / sideways: tilt > ``forward_tilt_deg``, tilting faster than ``forward_rate_dps`` (and away
  from upright faster than ``tilting_away_dps``, so sitting up from lying is not it) and going down
  faster than ``forward_speed_m_s`` (or > ``sinking_tilt_deg`` and sinking faster than
  ``sinking_speed_m_s``); leaning to the side, ``sideways_tilt_deg`` is enough with that rate and
  speed: sitting down, lying down and bending go forwards or backwards, not sideways;
* any direction: free fall (|a| < ``free_fall_g`` for ``free_fall_s``) while already tilted by
  ``free_fall_tilt_deg`` and going down (a jump is a free fall while upright, so it needs the tilt).

While running (the gait envelope's step peak above ``running_accel_g``) only the tip beyond
``forward_tilt_deg`` is judged: a runner's trunk bounces down and swings back like a starting fall,
but never leans that far, while a trip pitches it far forwards.

The event's ``t_onset_s`` is when the waist started to go down in this excursion; ``lead_s`` to the
impact is not known yet when it fires: the fall detector reports it in the ``fall`` event.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from firmware_py.detectors.motion import Motion
from firmware_py.events import LOSS_OF_BALANCE, Event


@dataclass(frozen=True)
class BalanceSettings:
    """Thresholds of the loss-of-balance detector (see the module docstring). Angles are from the wearer's
    upright reference, speeds are of the waist going down.

    Attributes
    ----------
    backward_tilt_deg : lean back beyond which a backward tip counts (balance is lost at ~10° backwards)
    backward_rate_dps : backward tipping rate that counts (slow backward slips stay under ~140 °/s)
    backward_speed_m_s : downward waist speed that counts with a backward tip
    forward_tilt_deg : tilt beyond which a forward or sideways tip counts (~24° forwards in the literature)
    sideways_tilt_deg : smaller lean to the side that counts with the forward rate and speed (nobody sinks
        sideways on purpose)
    forward_rate_dps : trunk tilting rate that counts forwards or sideways
    forward_speed_m_s : downward waist speed that counts with a forward or sideways tip
    tilting_away_dps : the trunk must be going away from upright at least this fast (not sitting up)
    sinking_tilt_deg : smaller tilt that counts when the waist sinks fast (``sinking_speed_m_s``)
    sinking_speed_m_s : downward waist speed for the sinking rule
    free_fall_g : |a| below this is free fall
    free_fall_s : how long the free fall must last
    free_fall_tilt_deg : tilt the trunk must have during the free fall (a jump is upright)
    free_fall_speed_m_s : downward waist speed needed with the free fall
    upright_deg : tilt under which the wearer counts as upright
    upright_within_s : a loss of balance must start within this long of being upright
    running_accel_g : typical step peak |a| above which the wearer is running (then only the big tip counts)
    refractory_s : at most one warning in this long
    """

    backward_tilt_deg: float = 16.0
    backward_rate_dps: float = 60.0
    backward_speed_m_s: float = 0.6
    forward_tilt_deg: float = 40.0
    sideways_tilt_deg: float = 15.0
    forward_rate_dps: float = 90.0
    forward_speed_m_s: float = 0.9
    tilting_away_dps: float = 20.0
    sinking_tilt_deg: float = 30.0
    sinking_speed_m_s: float = 1.2
    free_fall_g: float = 0.5
    free_fall_s: float = 0.1
    free_fall_tilt_deg: float = 30.0
    free_fall_speed_m_s: float = 1.2
    upright_deg: float = 35.0
    upright_within_s: float = 2.0
    running_accel_g: float = 2.3
    refractory_s: float = 3.0

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"balance.{name} = {value!r} is not allowed; use a positive number")


class BalanceDetector:
    """Streaming loss-of-balance detector; see the module docstring. :meth:`step` once per frame."""

    def __init__(self, settings: BalanceSettings = BalanceSettings()) -> None:
        self.settings = settings
        self.last_fired_t = -math.inf
        self._last_upright_t = -math.inf
        self._going_down_since = math.nan
        self._free_fall_s = 0.0
        self._prev_t = math.nan
        self._prev_tilt = 0.0

    def step(self, mo: Motion) -> Optional[Event]:
        s = self.settings
        t = mo.t_s
        dt = t - self._prev_t if t > self._prev_t else 0.0
        # how fast the trunk goes away from upright (negative: coming back up, e.g. sitting up from lying)
        away_dps = (mo.tilt_deg - self._prev_tilt) / dt if dt > 0 else 0.0
        self._prev_t, self._prev_tilt = t, mo.tilt_deg
        speed = mo.vertical_speed_m_s
        if mo.tilt_deg < s.upright_deg:
            self._last_upright_t = t
        if speed < -0.3:
            if self._going_down_since != self._going_down_since:    # NaN: a new descent
                self._going_down_since = t
        else:
            self._going_down_since = math.nan
        self._free_fall_s = self._free_fall_s + dt if mo.accel_low_g < s.free_fall_g else 0.0
        if t - self._last_upright_t > s.upright_within_s or t - self.last_fired_t < s.refractory_s:
            return None
        # a runner's trunk bounces and swings like a starting fall, so while running only the big tip
        # counts: a trip pitches the trunk far beyond any running lean (≤ 35° in SisFall's fast jogging)
        running = mo.step_accel_g > s.running_accel_g
        if (not running and mo.lean_back_deg > s.backward_tilt_deg and mo.back_rate_dps > s.backward_rate_dps
                and speed < -s.backward_speed_m_s):
            why = "backward_tip"
        elif mo.tilt_rate_dps > s.forward_rate_dps and away_dps > s.tilting_away_dps and (
                (mo.tilt_deg > s.forward_tilt_deg and speed < -s.forward_speed_m_s)
                or (not running and abs(mo.lean_left_deg) > s.sideways_tilt_deg and speed < -s.forward_speed_m_s)
                or (not running and mo.tilt_deg > s.sinking_tilt_deg and speed < -s.sinking_speed_m_s)):
            why = "tip"
        elif (not running and self._free_fall_s >= s.free_fall_s and mo.tilt_deg > s.free_fall_tilt_deg
              and speed < -s.free_fall_speed_m_s):
            why = "free_fall"
        else:
            return None
        self.last_fired_t = t
        onset = self._going_down_since if self._going_down_since == self._going_down_since else t
        return Event(LOSS_OF_BALANCE, t_onset_s=onset, t_detect_s=t, features={
            "trigger": why,
            "direction": mo.direction,
            "tilt_deg": round(mo.tilt_deg, 1),
            "lean_back_deg": round(mo.lean_back_deg, 1),
            "trunk_rate_dps": round(mo.tilt_rate_dps, 1),
            "vertical_speed_m_s": round(speed, 2),
            "accel_low_g": round(mo.accel_low_g, 2),
        })
