"""``loss_of_balance``: a fall starting, recognised before the impact.

A fall is the trunk tipping over while the waist accelerates downwards. The detector fires when, within
``upright_within_s`` of the wearer being upright, the waist is moving down and the trunk is tipping --
with **direction-dependent thresholds**, because balance is lost at a much smaller angle backwards
(about 10° of trunk extension) than forwards (about 24°), and slow backward slips can stay under the
classic 140 °/s trunk-rate thresholds:

* backwards: lean back > ``backward_tilt_deg``, tipping back faster than ``backward_rate_dps`` and going
  down faster than ``backward_speed_m_s``;
* forwards / sideways: tilt > ``forward_tilt_deg``, tilting faster than ``forward_rate_dps`` and going
  down faster than ``forward_speed_m_s``;
* any direction: free fall (|a| < ``free_fall_g`` for ``free_fall_s``) while already tilted by
  ``free_fall_tilt_deg`` and going down (a jump is a free fall while upright, so it needs the tilt).

The event's ``t_onset_s`` is when the waist started to go down in this excursion; ``lead_s`` to the
impact is not known yet when it fires: the fall detector reports it in the ``fall`` event.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List

from firmware_py.detectors.motion import Motion, direction_of
from firmware_py.events import LOSS_OF_BALANCE, Event


@dataclass(frozen=True)
class BalanceSettings:
    """Thresholds of the loss-of-balance detector (see the module docstring)."""

    backward_tilt_deg: float = 12.0
    backward_rate_dps: float = 40.0
    backward_speed_m_s: float = 0.6
    forward_tilt_deg: float = 30.0
    forward_rate_dps: float = 60.0
    forward_speed_m_s: float = 0.9
    free_fall_g: float = 0.5
    free_fall_s: float = 0.1
    free_fall_tilt_deg: float = 20.0
    free_fall_speed_m_s: float = 0.7
    upright_deg: float = 25.0
    upright_within_s: float = 1.5
    refractory_s: float = 3.0

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"balance.{name} = {value!r} is not allowed; use a positive number")


class BalanceDetector:
    """Streaming loss-of-balance detector; see the module docstring."""

    def __init__(self, settings: BalanceSettings = BalanceSettings()) -> None:
        self.settings = settings
        self._last_upright_t = -math.inf
        self._last_fired_t = -math.inf
        self._going_down_since = math.nan
        self._free_fall_s = 0.0
        self._prev_t = math.nan

    def process(self, mo: Motion) -> List[Event]:
        s = self.settings
        back = ((mo.lean_back_deg > s.backward_tilt_deg) & (mo.back_rate_dps > s.backward_rate_dps)
                & (mo.vertical_speed_m_s < -s.backward_speed_m_s))
        other = ((mo.tilt_deg > s.forward_tilt_deg) & (mo.tilt_rate_dps > s.forward_rate_dps)
                 & (mo.vertical_speed_m_s < -s.forward_speed_m_s))
        falling = ((mo.tilt_deg > s.free_fall_tilt_deg) & (mo.vertical_speed_m_s < -s.free_fall_speed_m_s))
        low = mo.accel_low_g < s.free_fall_g
        upright = mo.tilt_deg < s.upright_deg
        down = mo.vertical_speed_m_s < -0.3
        events: List[Event] = []
        # per-frame state machine over plain floats; the thresholds were applied above with numpy
        t_list = mo.t_s.tolist()
        up_l, down_l, low_l = upright.tolist(), down.tolist(), low.tolist()
        back_l, other_l, falling_l = back.tolist(), other.tolist(), falling.tolist()
        prev_t = self._prev_t
        for i, t in enumerate(t_list):
            dt = t - prev_t if t > prev_t else 0.0
            prev_t = t
            if up_l[i]:
                self._last_upright_t = t
            if down_l[i]:
                if self._going_down_since != self._going_down_since:    # NaN: a new descent
                    self._going_down_since = t
            else:
                self._going_down_since = math.nan
            self._free_fall_s = self._free_fall_s + dt if low_l[i] else 0.0
            if t - self._last_upright_t > s.upright_within_s or t - self._last_fired_t < s.refractory_s:
                continue
            why = ""
            if back_l[i]:
                why = "backward_tip"
            elif other_l[i]:
                why = "tip"
            elif falling_l[i] and self._free_fall_s >= s.free_fall_s:
                why = "free_fall"
            if not why:
                continue
            self._last_fired_t = t
            onset = self._going_down_since if self._going_down_since == self._going_down_since else t
            lean_back, lean_left = float(mo.lean_back_deg[i]), float(mo.lean_left_deg[i])
            events.append(Event(LOSS_OF_BALANCE, t_onset_s=onset, t_detect_s=t, features={
                "trigger": why,
                "direction": direction_of(lean_back, lean_left),
                "tilt_deg": round(float(mo.tilt_deg[i]), 1),
                "lean_back_deg": round(lean_back, 1),
                "trunk_rate_dps": round(float(mo.tilt_rate_dps[i]), 1),
                "vertical_speed_m_s": round(float(mo.vertical_speed_m_s[i]), 2),
                "accel_low_g": round(float(mo.accel_low_g[i]), 2),
            }))
        self._prev_t = prev_t
        return events
