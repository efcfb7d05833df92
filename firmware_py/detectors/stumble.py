"""``stumble``: a sudden perturbation while walking, after which the wearer stays up.

A perturbation is a trunk rate or an |a| peak far beyond the wearer's own gait envelope (``ratio`` ×
their typical per-step peak, and at least an absolute floor), while walking or within
``walking_within_s`` of it. It becomes a ``stumble`` when, ``confirm_s`` later, the trunk is upright
again and no loss of balance or fall was raised and no impact is being judged; otherwise the fall
detectors own the episode and no stumble is reported.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Sequence

import numpy as np

from firmware_py.detectors.motion import Motion, direction_of
from firmware_py.events import FALL, LOSS_OF_BALANCE, STUMBLE, Event


@dataclass(frozen=True)
class StumbleSettings:
    """Thresholds of the stumble detector (see the module docstring)."""

    rate_ratio: float = 2.0
    accel_ratio: float = 1.8
    min_rate_dps: float = 100.0
    min_accel_g: float = 2.2
    walking_within_s: float = 1.5
    confirm_s: float = 1.5
    upright_deg: float = 30.0
    refractory_s: float = 3.0

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"stumble.{name} = {value!r} is not allowed; use a positive number")


class StumbleDetector:
    """Streaming stumble detector; see the module docstring."""

    def __init__(self, settings: StumbleSettings = StumbleSettings()) -> None:
        self.settings = settings
        self._last_walking_t = -math.inf
        self._start_t = math.nan          # perturbation under watch (NaN: none)
        self._features: dict = {}
        self._alarm_t = -math.inf         # last loss_of_balance / fall
        self._last_stumble_t = -math.inf

    def process(self, mo: Motion, alarms: Sequence[Event], fall_pending: np.ndarray) -> List[Event]:
        s = self.settings
        rate_limit = np.maximum(s.min_rate_dps, s.rate_ratio * mo.step_rate_dps)
        accel_limit = np.maximum(s.min_accel_g, s.accel_ratio * mo.step_accel_g)
        trigger = ((mo.tilt_rate_dps > rate_limit) | (mo.accel_peak_g > accel_limit)).tolist()
        walking = mo.is_walking.tolist()
        pending = fall_pending.tolist()
        alarm_times = sorted(e.t_detect_s for e in alarms if e.type in (LOSS_OF_BALANCE, FALL))
        events: List[Event] = []
        j = 0
        for i, t in enumerate(mo.t_s.tolist()):
            while j < len(alarm_times) and alarm_times[j] <= t:
                self._alarm_t = alarm_times[j]
                j += 1
            if walking[i]:
                self._last_walking_t = t
            if self._start_t != self._start_t:        # NaN: idle
                if (trigger[i] and t - self._last_walking_t <= s.walking_within_s
                        and t - self._last_stumble_t >= s.refractory_s):
                    self._start_t = t
                    self._features = {"peak_accel_g": round(float(mo.accel_peak_g[i]), 2),
                                      "trunk_rate_dps": round(float(mo.tilt_rate_dps[i]), 1),
                                      "envelope_rate_dps": round(float(mo.step_rate_dps[i]), 1),
                                      "envelope_accel_g": round(float(mo.step_accel_g[i]), 2)}
                continue
            if trigger[i] and t - self._start_t < s.confirm_s:
                self._features["peak_accel_g"] = max(self._features["peak_accel_g"],
                                                     round(float(mo.accel_peak_g[i]), 2))
                self._features["trunk_rate_dps"] = max(self._features["trunk_rate_dps"],
                                                       round(float(mo.tilt_rate_dps[i]), 1))
            if pending[i] or self._alarm_t >= self._start_t - 0.5:
                self._start_t = math.nan              # the fall detectors own this episode
                continue
            if t - self._start_t < s.confirm_s:
                continue
            if mo.tilt_deg[i] < s.upright_deg:
                features = dict(self._features)
                features["tilt_deg"] = round(float(mo.tilt_deg[i]), 1)
                features["direction"] = direction_of(float(mo.lean_back_deg[i]), float(mo.lean_left_deg[i]))
                events.append(Event(STUMBLE, t_onset_s=self._start_t, t_detect_s=t, features=features))
                self._last_stumble_t = t
            self._start_t = math.nan
        return events
