"""Walking or not, steps, cadence, the wearer's upright posture and their own gait envelope.

Steps are the upward peaks of the waist's vertical acceleration (heel strike pushes the pelvis up),
with hysteresis (the signal must go below its mean between steps) and a refractory interval. The
wearer is *walking* once ``min_steps`` steps follow each other at walking intervals, and stops
walking when no step came for ``max_step_interval_s``; a *walk* (for the session summary) ends after
``walk_end_s`` without steps.

The **gait envelope** is the wearer's own typical peak trunk rate and peak |a| per step, learned with
an exponential average over steps (starting from population priors). Stumbles are judged against it,
so a brisk walker or a jogger is not "stumbling" at every step.

The **upright reference** is the direction of "up" the wearer keeps while walking: a belt-worn sensor
sits a little pitched on most bodies, so tilt angles for the detectors are measured from it, not from
the sensor's z axis.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GaitSettings:
    """Step detection and envelope settings.

    Attributes
    ----------
    step_accel_g : upward acceleration a heel strike must exceed to count as a step
    min_step_interval_s, max_step_interval_s : plausible time between steps (walking to slow shuffling)
    min_steps : consecutive steps before the wearer counts as walking
    walk_end_s : a walk (session) ends after this long without a step
    envelope_steps : steps over which the gait envelope averages
    prior_step_rate_dps, prior_step_accel_g : envelope before any step was seen (typical walking)
    reference_s : time constant of the upright reference while walking
    """

    step_accel_g: float = 0.12
    min_step_interval_s: float = 0.25
    max_step_interval_s: float = 1.5
    min_steps: int = 4
    walk_end_s: float = 5.0
    envelope_steps: float = 10.0
    prior_step_rate_dps: float = 60.0
    prior_step_accel_g: float = 1.7
    reference_s: float = 4.0

    def __post_init__(self) -> None:
        for name in ("step_accel_g", "min_step_interval_s", "max_step_interval_s", "walk_end_s",
                     "envelope_steps", "prior_step_rate_dps", "prior_step_accel_g", "reference_s"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"{name} = {value} is not allowed; use a positive number")
        if self.max_step_interval_s <= self.min_step_interval_s:
            raise ValueError(f"max_step_interval_s = {self.max_step_interval_s} is not allowed; use more than "
                             f"min_step_interval_s = {self.min_step_interval_s}")
        if self.min_steps < 2:
            raise ValueError(f"min_steps = {self.min_steps} is not allowed; use 2 or more")


@dataclass(frozen=True)
class GaitFrames:
    """Per-frame gait outputs (m rows)."""

    is_walking: np.ndarray        # (m,) bool
    steps: np.ndarray             # (m,) steps counted since the stream began
    cadence_spm: np.ndarray       # (m,) steps per minute (0 when not walking)
    step_rate_dps: np.ndarray     # (m,) envelope: typical peak trunk rate per step
    step_accel_g: np.ndarray      # (m,) envelope: typical peak |a| per step
    reference_up: np.ndarray      # (m, 3) upright reference ("up" while walking), body axes
    walk_ended: np.ndarray        # (m,) a walk ended at this frame (session summary due)


class GaitTracker:
    """Streaming step counter, walking state, envelope and upright reference."""

    def __init__(self, settings: GaitSettings = GaitSettings()) -> None:
        self.settings = settings
        self.steps = 0
        self._armed = False
        self._last_step_t = -math.inf
        self._bout_steps = 0             # consecutive steps at walking intervals
        self._interval_s = 0.0           # smoothed step interval
        self._rate_env = settings.prior_step_rate_dps
        self._accel_env = settings.prior_step_accel_g
        self._peak_rate = 0.0
        self._peak_accel = 0.0
        self._ref = None
        self._in_walk = False
        self._prev_t = math.nan

    @property
    def is_walking(self) -> bool:
        return self._bout_steps >= self.settings.min_steps

    def update(self, t_s: np.ndarray, vertical_accel_g: np.ndarray, up: np.ndarray, trunk_rate_dps: np.ndarray,
               accel_peak_g: np.ndarray) -> GaitFrames:
        s = self.settings
        m = len(t_s)
        walking = np.zeros(m, dtype=bool)
        steps = np.zeros(m, dtype=np.int64)
        cadence = np.zeros(m)
        rate_env = np.empty(m)
        accel_env = np.empty(m)
        ref_out = np.empty((m, 3))
        ended = np.zeros(m, dtype=bool)
        if self._ref is None and m:
            self._ref = up[0].tolist()
        rx, ry, rz = self._ref
        ts, av, ups = t_s.tolist(), vertical_accel_g.tolist(), up.tolist()
        rates, peaks = trunk_rate_dps.tolist(), accel_peak_g.tolist()
        alpha_env = 1.0 / s.envelope_steps
        min_iv, max_iv, thr, need = s.min_step_interval_s, s.max_step_interval_s, s.step_accel_g, s.min_steps
        prev_t = self._prev_t
        for i in range(m):
            t = ts[i]
            a = av[i]
            if rates[i] > self._peak_rate:
                self._peak_rate = rates[i]
            if peaks[i] > self._peak_accel:
                self._peak_accel = peaks[i]
            if a < 0.0:
                self._armed = True
            elif self._armed and a > thr and t - self._last_step_t >= min_iv:
                self._armed = False
                interval = t - self._last_step_t
                self.steps += 1
                if interval <= max_iv:
                    self._bout_steps += 1
                    self._interval_s = interval if self._bout_steps <= 2 else 0.7 * self._interval_s + 0.3 * interval
                    if self._bout_steps >= need:
                        # learn the envelope from steps while walking, but not from an outlier step
                        # (a stumble must not teach the envelope that stumbling is normal)
                        if self._peak_rate < 3.0 * self._rate_env:
                            self._rate_env += alpha_env * (self._peak_rate - self._rate_env)
                        if self._peak_accel < 2.0 * self._accel_env:
                            self._accel_env += alpha_env * (self._peak_accel - self._accel_env)
                        self._in_walk = True
                else:
                    self._bout_steps = 1
                self._last_step_t = t
                self._peak_rate = 0.0
                self._peak_accel = 0.0
            since = t - self._last_step_t
            if since > max_iv:
                self._bout_steps = 0
            if self._in_walk and since > s.walk_end_s:
                self._in_walk = False
                ended[i] = True
            is_walking = self._bout_steps >= need
            if is_walking:
                ux, uy, uz = ups[i]
                dt = t - prev_t
                k = min(1.0, dt / s.reference_s) if dt > 0 else 0.0
                rx, ry, rz = rx + k * (ux - rx), ry + k * (uy - ry), rz + k * (uz - rz)
                n = math.sqrt(rx * rx + ry * ry + rz * rz)
                rx, ry, rz = rx / n, ry / n, rz / n
            walking[i] = is_walking
            steps[i] = self.steps
            cadence[i] = 60.0 / self._interval_s if is_walking and self._interval_s > 0 else 0.0
            rate_env[i] = self._rate_env
            accel_env[i] = self._accel_env
            ref_out[i, 0], ref_out[i, 1], ref_out[i, 2] = rx, ry, rz
            prev_t = t
        self._prev_t = prev_t
        self._ref = [rx, ry, rz]
        return GaitFrames(walking, steps, cadence, rate_env, accel_env, ref_out, ended)

    @property
    def in_walk(self) -> bool:
        return self._in_walk
