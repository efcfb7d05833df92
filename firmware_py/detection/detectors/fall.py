"""``fall``: an impact, confirmed by the posture after it.

The posture is judged ``confirm_s`` after the strongest impact (a stronger one while judging restarts
the wait, e.g. the landing after the jolt of a slip), so the ``fall`` event comes within a second of it; its
tilt is the smallest over the last :data:`SETTLED_S` (a posture, not one frame's swing). Which impact
and which posture are enough depends on what came before -- a softer landing needs stronger evidence:

* after a ``loss_of_balance`` (within ``after_balance_s``): ``impact_after_balance_g`` and the trunk off
  upright by ``lying_after_balance_deg``;
* from upright (tilt < ``upright_deg`` within ``upright_before_s``): ``impact_g`` then ``lying_deg`` (or
  ``descended_lying_deg`` if the waist went down faster than ``soft_descent_m_s`` before it); or a
  soft landing (``soft_impact_g``, e.g. onto grass or a mattress) after the waist went down faster than
  ``soft_descent_m_s`` then ``soft_lying_deg``; or a hard one (``hard_impact_g``) then ``hard_lying_deg``;
* from any posture (sitting, kneeling, getting up): a severe impact (``severe_impact_g``) then
  ``severe_lying_deg``; or any impact above ``soft_impact_g`` that leaves the wearer face-down (leaning
  forward by ``prone_deg``, and ``posture_change_deg`` more tilted than in the 2 s before): nobody lies
  down prone with a jolt on purpose; or a landing on the back (lean back ``back_lying_deg``) with an
  impact of ``back_impact_g``, or of ``back_change_impact_g`` when the posture changed by
  ``posture_change_deg`` -- lying down on a bed, even quickly, stayed under 2.3 g on the back in SisFall.
  Until the mounting's heading is known (``gravity only``) face-down and on-the-back cannot be told: any
  lying posture (``back_lying_deg``) after ``back_change_impact_g`` with that posture change counts.

When a loss of balance preceded the impact, the event carries ``lead_s``: how long before the impact
the warning was raised.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Optional

from firmware_py.detection.detectors.motion import Motion
from firmware_py.events import FALL, Event
from firmware_py.settings_checks import require_positive


#: the posture after an impact is the least tilted frame over this long (s) before the verdict: four 50 ms
#: frames, at 20 Hz four samples
SETTLED_S = 0.15


@dataclass(frozen=True)
class FallSettings:
    """Thresholds of the fall detector (see the module docstring).

    Attributes
    ----------
    impact_g : impact that makes a fall from upright when followed by ``lying_deg``
    lying_deg : tilt after the impact that counts as down, from upright
    impact_after_balance_g : impact that makes a fall after a loss_of_balance
    lying_after_balance_deg : tilt after the impact that counts as down after a loss_of_balance
    after_balance_s : how long after a loss_of_balance an impact belongs to it
    soft_impact_g : smallest impact judged at all (a soft landing on grass or a mattress)
    soft_lying_deg : tilt needed after a soft landing from upright
    soft_descent_m_s : downward waist speed that makes a descent before the impact
    descended_lying_deg : tilt needed after ``impact_g`` when the waist descended first
    hard_impact_g : hard impact from upright, followed by ``hard_lying_deg``
    hard_lying_deg : tilt needed after a hard impact
    severe_impact_g : impact that makes a fall from any posture, followed by ``severe_lying_deg``
    severe_lying_deg : tilt needed after a severe impact
    prone_deg : forward lean after the impact that counts as face-down
    back_impact_g : impact that makes a fall when it leaves the wearer on the back (``back_lying_deg``)
    back_change_impact_g : smaller impact that counts on the back when the posture changed
    back_lying_deg : lean back after the impact that counts as lying on the back
    posture_change_deg : how much more tilted than in the 2 s before the impact counts as a change
    upright_deg : tilt under which the wearer counts as upright before the impact
    upright_before_s : "from upright" means upright within this long before the impact
    confirm_s : the posture is judged this long after the strongest impact (less than 1 s)
    refractory_s : at most one fall in this long
    """

    impact_g: float = 3.0
    lying_deg: float = 50.0
    impact_after_balance_g: float = 2.0
    lying_after_balance_deg: float = 35.0
    after_balance_s: float = 2.0
    soft_impact_g: float = 1.8
    soft_lying_deg: float = 55.0
    soft_descent_m_s: float = 0.6
    descended_lying_deg: float = 40.0
    hard_impact_g: float = 5.0
    hard_lying_deg: float = 40.0
    severe_impact_g: float = 6.0
    severe_lying_deg: float = 55.0
    prone_deg: float = 45.0
    back_impact_g: float = 3.5
    back_change_impact_g: float = 2.5
    back_lying_deg: float = 50.0
    posture_change_deg: float = 30.0
    upright_deg: float = 35.0
    upright_before_s: float = 2.0
    confirm_s: float = 0.8
    refractory_s: float = 5.0

    def __post_init__(self) -> None:
        require_positive(self, prefix="fall.")
        if self.confirm_s >= 1.0:
            raise ValueError(f"fall.confirm_s = {self.confirm_s} is not allowed; use less than 1 s so the "
                             "fall is reported within a second of the impact")


class FallDetector:
    """Streaming fall detector; see the module docstring. :meth:`step` once per frame."""

    def __init__(self, settings: FallSettings = FallSettings()) -> None:
        self.settings = settings
        self.last_fall_t = -math.inf
        self._last_upright_t = -math.inf
        self._descent_t = -math.inf          # last time the waist went down faster than soft_descent_m_s
        self._recent_tilt: deque = deque()   # (t, tilt) over the last upright_before_s
        self._impact_t = math.nan            # first sample of the impact under evaluation (NaN: none)
        self._peak_g = 0.0
        self._peak_t = math.nan
        self._tilt_before = 0.0
        self._was_upright = False
        self._descended = False

    @property
    def is_pending(self) -> bool:
        """An impact is being judged (its posture is not known yet)."""
        return self._impact_t == self._impact_t

    def step(self, mo: Motion, balance_t: float) -> Optional[Event]:
        """One frame; ``balance_t`` is the detection time of the last loss_of_balance (-inf: none)."""
        s = self.settings
        t = mo.t_s
        if mo.tilt_deg < s.upright_deg:
            self._last_upright_t = t
        if mo.vertical_speed_m_s < -s.soft_descent_m_s:
            self._descent_t = t
        recent = self._recent_tilt
        recent.append((t, mo.tilt_deg))
        while recent[0][0] < t - s.upright_before_s:
            recent.popleft()
        peak, t_peak = mo.accel_peak_g, mo.t_peak_s
        if self._impact_t != self._impact_t:          # NaN: idle, look for an impact
            if peak < min(s.soft_impact_g, s.impact_after_balance_g) or t - self.last_fall_t < s.refractory_s:
                return None
            self._impact_t, self._peak_g, self._peak_t = t_peak, peak, t_peak
            self._tilt_before = min(tilt for _, tilt in recent)
            self._was_upright = t_peak - self._last_upright_t <= s.upright_before_s
            self._descended = t_peak - self._descent_t <= 1.0
        if peak > self._peak_g:
            # a stronger impact while judging (the slip came first, the landing after): judge that one,
            # keeping what the wearer was doing before the first
            self._peak_g, self._peak_t = peak, t_peak
            self._descended = self._descended or t_peak - self._descent_t <= 1.0
        if t - self._peak_t < s.confirm_s:      # judge the posture confirm_s after the strongest impact
            return None
        after_balance = self._impact_t - balance_t <= s.after_balance_s
        self._impact_t = math.nan
        # the posture is the least tilted of the last SETTLED_S: one frame's tilt can be a swing, or the
        # gyro's overrange integrated twice (UMAFall: a jogger read 41° for one frame at the verdict)
        settled_tilt = min(tilt for tt, tilt in recent if tt >= t - SETTLED_S - 1e-9)
        why = self._judge(mo, after_balance, settled_tilt)
        if not why:
            return None
        features = {
            "peak_accel_g": round(self._peak_g, 2),
            "tilt_deg": round(settled_tilt, 1),
            "direction": mo.direction,
            "after_loss_of_balance": after_balance,
            "rule": why,
        }
        if after_balance:
            features["lead_s"] = round(self._peak_t - balance_t, 3)
        self.last_fall_t = t
        return Event(FALL, t_onset_s=self._peak_t, t_detect_s=t, features=features)

    def _judge(self, mo: Motion, after_balance: bool, tilt: float) -> str:
        """Which rule (if any) makes this impact a fall, given the posture now (``tilt``: settled)."""
        s = self.settings
        g = self._peak_g
        if after_balance and g >= s.impact_after_balance_g and tilt >= s.lying_after_balance_deg:
            return "after_loss_of_balance"
        if self._was_upright:
            if g >= s.impact_g and (tilt >= s.lying_deg or (self._descended and tilt >= s.descended_lying_deg)):
                return "impact"
            if g >= s.hard_impact_g and tilt >= s.hard_lying_deg:
                return "hard_impact"
            if g >= s.soft_impact_g and tilt >= s.soft_lying_deg and self._descended:
                return "soft_landing"
        if g >= s.severe_impact_g and tilt >= s.severe_lying_deg:
            return "severe_impact"
        if not mo.heading_known:
            # face-down or on the back cannot be told yet: lying after a jolt that changed the posture, as
            # the back landing asks (lying down on a bed, even quickly, stayed under it in SisFall)
            if (g >= s.back_change_impact_g and tilt >= s.back_lying_deg
                    and tilt - self._tilt_before >= s.posture_change_deg):
                return "lying_after_impact"
            return ""
        if (g >= s.soft_impact_g and -mo.lean_back_deg >= s.prone_deg
                and tilt - self._tilt_before >= s.posture_change_deg):
            return "face_down"
        if mo.lean_back_deg >= s.back_lying_deg and (
                g >= s.back_impact_g
                or (g >= s.back_change_impact_g and tilt - self._tilt_before >= s.posture_change_deg)):
            return "back_landing"
        return ""
