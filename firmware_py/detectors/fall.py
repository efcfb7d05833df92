"""``fall``: an impact, confirmed by the posture after it.

Two ways in:

* after a ``loss_of_balance`` (within ``after_balance_s``), an impact of ``impact_after_balance_g`` is
  enough, and the trunk must then be off upright by ``lying_after_balance_deg``;
* without one, the impact must be harder (``impact_g``), the wearer must have been upright within
  ``upright_before_s`` of it, and the trunk must end up lying (``lying_deg``).

The posture is judged ``confirm_s`` after the first impact sample (the strongest impact within
``peak_window_s`` is reported), so the ``fall`` event comes well within a second of the impact.
When a loss of balance preceded the impact, the event carries ``lead_s``: how long before the impact
the warning was raised.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from firmware_py.detectors.motion import Motion
from firmware_py.events import FALL, Event


@dataclass(frozen=True)
class FallSettings:
    """Thresholds of the fall detector (see the module docstring)."""

    impact_g: float = 3.0
    impact_after_balance_g: float = 2.0
    after_balance_s: float = 2.0
    lying_deg: float = 50.0
    lying_after_balance_deg: float = 35.0
    upright_deg: float = 35.0
    upright_before_s: float = 2.0
    confirm_s: float = 0.8
    peak_window_s: float = 0.4
    refractory_s: float = 5.0

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"fall.{name} = {value!r} is not allowed; use a positive number")
        if self.confirm_s >= 1.0:
            raise ValueError(f"fall.confirm_s = {self.confirm_s} is not allowed; use less than 1 s so the "
                             "fall is reported within a second of the impact")


class FallDetector:
    """Streaming fall detector; see the module docstring. :meth:`step` once per frame."""

    def __init__(self, settings: FallSettings = FallSettings()) -> None:
        self.settings = settings
        self.last_fall_t = -math.inf
        self._last_upright_t = -math.inf
        self._impact_t = math.nan            # first sample of the impact under evaluation (NaN: none)
        self._peak_g = 0.0
        self._peak_t = math.nan

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
        peak, t_peak = mo.accel_peak_g, mo.t_peak_s
        if self._impact_t != self._impact_t:          # NaN: idle, look for an impact
            if peak < s.impact_after_balance_g or t - self.last_fall_t < s.refractory_s:
                return None
            after_balance = t_peak - balance_t <= s.after_balance_s
            if not after_balance and (peak < s.impact_g or t_peak - self._last_upright_t > s.upright_before_s):
                return None
            self._impact_t, self._peak_g, self._peak_t = t_peak, peak, t_peak
        if t - self._impact_t <= s.peak_window_s and peak > self._peak_g:
            self._peak_g, self._peak_t = peak, t_peak
        if t - self._impact_t < s.confirm_s:
            return None
        after_balance = self._impact_t - balance_t <= s.after_balance_s
        self._impact_t = math.nan
        if mo.tilt_deg < (s.lying_after_balance_deg if after_balance else s.lying_deg):
            return None
        features = {
            "peak_accel_g": round(self._peak_g, 2),
            "tilt_deg": round(mo.tilt_deg, 1),
            "direction": mo.direction,
            "after_loss_of_balance": after_balance,
        }
        if after_balance:
            features["lead_s"] = round(self._peak_t - balance_t, 3)
        self.last_fall_t = t
        return Event(FALL, t_onset_s=self._peak_t, t_detect_s=t, features=features)
