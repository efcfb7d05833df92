"""``stumble``: a sudden perturbation while walking, after which the wearer stays up.

A perturbation is a trunk rate or an |a| peak far beyond the wearer's own gait envelope (``ratio`` ×
their typical per-step peak, and at least an absolute floor), while walking or within
``walking_within_s`` after it, as long as no new run of steps has begun: once the wearer steps off again
the perturbation belongs to the new walk, whose pace the envelope has not learned yet (played backwards in
time, a walk that stops with a jolt is one that starts with a jolt a moment after the last one ended).
Running (a typical step peak above ``running_accel_g``) is not walking: its bounces are as big as a
stumble's, so no stumble is judged then; nor before ``min_walk_steps`` steps, while the envelope is still
mostly the population prior. It becomes a ``stumble`` when, ``confirm_s`` later, the trunk is upright
again and no loss of balance or fall was raised (an impact still being judged delays the verdict);
otherwise the fall detectors own the episode and no stumble is reported.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from firmware_py.detection.detectors.motion import Motion
from firmware_py.events import STUMBLE, Event
from firmware_py.settings_checks import require_positive


@dataclass(frozen=True)
class StumbleSettings:
    """Thresholds of the stumble detector (see the module docstring).

    Attributes
    ----------
    rate_ratio : trunk rate beyond this many times the wearer's typical per-step peak is a perturbation
    accel_ratio : |a| beyond this many times the wearer's typical per-step peak is a perturbation
    min_rate_dps : a perturbation's trunk rate is at least this
    min_accel_g : a perturbation's |a| is at least this
    walking_within_s : the perturbation must come while walking or within this long of it
    confirm_s : how long after the perturbation the wearer must be upright again
    upright_deg : tilt under which the wearer counts as upright again
    refractory_s : at most one stumble in this long
    running_accel_g : typical step peak |a| above which the wearer is running (no stumbles judged)
    min_walk_steps : steps of walking before stumbles are judged (the envelope must be the wearer's)
    """

    rate_ratio: float = 2.0
    accel_ratio: float = 1.8
    min_rate_dps: float = 100.0
    min_accel_g: float = 2.2
    walking_within_s: float = 1.5
    confirm_s: float = 1.5
    upright_deg: float = 30.0
    refractory_s: float = 3.0
    running_accel_g: float = 2.3
    min_walk_steps: int = 6

    def __post_init__(self) -> None:
        require_positive(self, prefix="stumble.")


class StumbleDetector:
    """Streaming stumble detector; see the module docstring. :meth:`step` once per frame."""

    def __init__(self, settings: StumbleSettings = StumbleSettings()) -> None:
        self.settings = settings
        self._last_walking_t = -math.inf
        self._start_t = math.nan          # perturbation under watch (NaN: none)
        self._features: dict = {}
        self._last_stumble_t = -math.inf
        self._walk_steps = 0              # steps of the last walk (the envelope has learned from them)

    def step(self, mo: Motion, alarm_t: float, fall_pending: bool) -> Optional[Event]:
        """One frame; ``alarm_t`` is the last loss_of_balance / fall detection time, ``fall_pending`` whether
        an impact is being judged."""
        s = self.settings
        t = mo.t_s
        if mo.is_walking:
            self._last_walking_t = t
            self._walk_steps = mo.walk_steps
        trigger = (mo.tilt_rate_dps > max(s.min_rate_dps, s.rate_ratio * mo.step_rate_dps)
                   or mo.accel_peak_g > max(s.min_accel_g, s.accel_ratio * mo.step_accel_g))
        if self._start_t != self._start_t:        # NaN: idle
            # after a walk ended, the first steps of the next one count as its start: no stumble is judged
            # there (walk_steps is the new run's), as in the first min_walk_steps of any walk
            same_walk = mo.is_walking or mo.walk_steps == 0
            if (trigger and t - self._last_walking_t <= s.walking_within_s and same_walk
                    and t - self._last_stumble_t >= s.refractory_s and mo.step_accel_g <= s.running_accel_g
                    and self._walk_steps >= s.min_walk_steps):
                self._start_t = t
                self._features = {"peak_accel_g": round(mo.accel_peak_g, 2),
                                  "trunk_rate_dps": round(mo.tilt_rate_dps, 1),
                                  "envelope_rate_dps": round(mo.step_rate_dps, 1),
                                  "envelope_accel_g": round(mo.step_accel_g, 2)}
            return None
        if trigger and t - self._start_t < s.confirm_s:
            f = self._features
            f["peak_accel_g"] = max(f["peak_accel_g"], round(mo.accel_peak_g, 2))
            f["trunk_rate_dps"] = max(f["trunk_rate_dps"], round(mo.tilt_rate_dps, 1))
        if alarm_t >= self._start_t - 0.5:
            self._start_t = math.nan              # the fall detectors own this episode
            return None
        if t - self._start_t < s.confirm_s or fall_pending:
            return None                           # wait for the fall detector's verdict on an impact
        start, self._start_t = self._start_t, math.nan
        if mo.tilt_deg >= s.upright_deg:
            return None
        features = dict(self._features, tilt_deg=round(mo.tilt_deg, 1), direction=mo.direction)
        self._last_stumble_t = t
        return Event(STUMBLE, t_onset_s=start, t_detect_s=t, features=features)
