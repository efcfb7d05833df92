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
from typing import List, Sequence

import numpy as np

from firmware_py.detectors.motion import Motion, direction_of
from firmware_py.events import FALL, LOSS_OF_BALANCE, Event


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
    """Streaming fall detector; see the module docstring."""

    def __init__(self, settings: FallSettings = FallSettings()) -> None:
        self.settings = settings
        self._balance_t = -math.inf          # last loss_of_balance detection
        self._last_upright_t = -math.inf
        self._impact_t = math.nan            # first sample of the impact under evaluation (NaN: none)
        self._peak_g = 0.0
        self._peak_t = math.nan
        self._last_fall_t = -math.inf
        self.is_pending = np.zeros(0, dtype=bool)   # per frame of the last block: an impact is being judged

    def process(self, mo: Motion, balance_events: Sequence[Event]) -> List[Event]:
        s = self.settings
        m = len(mo)
        pending = np.zeros(m, dtype=bool)
        events: List[Event] = []
        lob_times = [e.t_detect_s for e in balance_events if e.type == LOSS_OF_BALANCE]
        ts = mo.t_s.tolist()
        peaks, tpeaks = mo.accel_peak_g.tolist(), mo.t_peak_s.tolist()
        upright = (mo.tilt_deg < s.upright_deg).tolist()
        low_impact = s.impact_after_balance_g
        j = 0
        for i in range(m):
            t = ts[i]
            while j < len(lob_times) and lob_times[j] <= t:
                self._balance_t = lob_times[j]
                j += 1
            if upright[i]:
                self._last_upright_t = t
            if self._impact_t != self._impact_t:          # NaN: idle, look for an impact
                if peaks[i] < low_impact or t - self._last_fall_t < s.refractory_s:
                    continue
                after_balance = tpeaks[i] - self._balance_t <= s.after_balance_s
                if not after_balance and (peaks[i] < s.impact_g
                                          or tpeaks[i] - self._last_upright_t > s.upright_before_s):
                    continue
                self._impact_t, self._peak_g, self._peak_t = tpeaks[i], peaks[i], tpeaks[i]
            pending[i] = True
            if t - self._impact_t <= s.peak_window_s and peaks[i] > self._peak_g:
                self._peak_g, self._peak_t = peaks[i], tpeaks[i]
            if t - self._impact_t < s.confirm_s:
                continue
            after_balance = self._impact_t - self._balance_t <= s.after_balance_s
            lying = s.lying_after_balance_deg if after_balance else s.lying_deg
            tilt = float(mo.tilt_deg[i])
            if tilt >= lying:
                features = {
                    "peak_accel_g": round(self._peak_g, 2),
                    "tilt_deg": round(tilt, 1),
                    "direction": direction_of(float(mo.lean_back_deg[i]), float(mo.lean_left_deg[i])),
                    "after_loss_of_balance": after_balance,
                }
                if after_balance:
                    features["lead_s"] = round(self._peak_t - self._balance_t, 3)
                events.append(Event(FALL, t_onset_s=self._peak_t, t_detect_s=t, features=features))
                self._last_fall_t = t
            self._impact_t = math.nan
        self.is_pending = pending
        return events

    @property
    def last_fall_t(self) -> float:
        return self._last_fall_t
