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

from firmware_py.settings_checks import require_positive



#: the upright reference stays within 35° of the body's z axis (the calibration's upright)
_MIN_REFERENCE_COS = math.cos(math.radians(35.0))


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
    reference_s: float = 3.0

    def __post_init__(self) -> None:
        require_positive(self, "step_accel_g", "min_step_interval_s", "max_step_interval_s", "walk_end_s",
                         "envelope_steps", "prior_step_rate_dps", "prior_step_accel_g", "reference_s")
        if self.max_step_interval_s <= self.min_step_interval_s:
            raise ValueError(f"max_step_interval_s = {self.max_step_interval_s} is not allowed; use more than "
                             f"min_step_interval_s = {self.min_step_interval_s}")
        if self.min_steps < 2:
            raise ValueError(f"min_steps = {self.min_steps} is not allowed; use 2 or more")


class GaitTracker:
    """Streaming step counter, walking state, envelope and upright reference; :meth:`step` per frame."""

    def __init__(self, settings: GaitSettings = GaitSettings()) -> None:
        self.settings = settings
        self.steps = 0
        self.is_walking = False
        self.cadence_spm = 0.0
        self.step_rate_dps = settings.prior_step_rate_dps     # envelope: typical peak trunk rate per step
        self.step_accel_g = settings.prior_step_accel_g       # envelope: typical peak |a| per step
        # upright reference ("up" while walking), body axes; starts at the calibration's upright (body z)
        self.reference_up = (0.0, 0.0, 1.0)
        self.walk_ended = False           # a walk ended at this frame (session summary due)
        self._armed = False
        self._last_step_t = -math.inf
        self._bout_steps = 0              # consecutive steps at walking intervals
        self._interval_s = 0.0            # smoothed step interval
        self._peak_rate = 0.0
        self._peak_accel = 0.0
        self._in_walk = False
        self._prev_t = math.nan
        self._settled = False

    @property
    def bout_steps(self) -> int:
        """Steps in the current run of steps at walking intervals."""
        return self._bout_steps

    @property
    def last_step_t(self) -> float:
        """Time of the last step (-inf before the first)."""
        return self._last_step_t

    def settle(self, up: tuple) -> None:
        """Take the first settled posture as the upright reference (until walking refines it), if it is
        within 35° of the body's z axis; the wearer is assumed to start upright."""
        if not self._settled:
            self._settled = True
            if up[2] > _MIN_REFERENCE_COS:
                self.reference_up = up

    def rebase(self, reference_up: tuple) -> None:
        """The body axes were turned under the tracker (a mounting re-base): the upright reference, in the
        new axes."""
        self.reference_up = reference_up
        self._settled = True

    def step(self, t: float, vertical_accel_g: float, up: tuple, trunk_rate_dps: float,
             accel_peak_g: float) -> None:
        s = self.settings
        if trunk_rate_dps > self._peak_rate:
            self._peak_rate = trunk_rate_dps
        if accel_peak_g > self._peak_accel:
            self._peak_accel = accel_peak_g
        if vertical_accel_g < 0.0:
            self._armed = True
        elif (self._armed and vertical_accel_g > s.step_accel_g
              and t - self._last_step_t >= s.min_step_interval_s):
            self._on_step(t)
        since = t - self._last_step_t
        if since > s.max_step_interval_s:
            self._bout_steps = 0
        self.walk_ended = False
        if self._in_walk and since > s.walk_end_s:
            self._in_walk = False
            self.walk_ended = True
        self.is_walking = self._bout_steps >= s.min_steps
        self.cadence_spm = 60.0 / self._interval_s if self.is_walking and self._interval_s > 0 else 0.0
        dt = t - self._prev_t
        self._prev_t = t
        if self.is_walking and dt > 0:
            k = min(1.0, dt / s.reference_s)
            rx, ry, rz = self.reference_up
            rx, ry, rz = rx + k * (up[0] - rx), ry + k * (up[1] - ry), rz + k * (up[2] - rz)
            n = math.sqrt(rx * rx + ry * ry + rz * rz)
            if rz / n > _MIN_REFERENCE_COS:       # a walk leaning more than that is not "upright"
                self.reference_up = (rx / n, ry / n, rz / n)

    def _on_step(self, t: float) -> None:
        s = self.settings
        self._armed = False
        interval = t - self._last_step_t
        self.steps += 1
        if interval <= s.max_step_interval_s:
            self._bout_steps += 1
            self._interval_s = interval if self._bout_steps <= 2 else 0.7 * self._interval_s + 0.3 * interval
            if self._bout_steps >= s.min_steps:
                # learn the envelope from steps while walking; one step moves it by at most half its own
                # size, so a single stumble barely teaches it, while a switch to jogging is learned
                # within a dozen steps
                alpha = max(1.0 / s.envelope_steps, 1.0 / (self._bout_steps - s.min_steps + 1))
                self.step_rate_dps += alpha * (min(self._peak_rate, 1.5 * self.step_rate_dps) - self.step_rate_dps)
                self.step_accel_g += alpha * (min(self._peak_accel, 1.5 * self.step_accel_g) - self.step_accel_g)
                self._in_walk = True
        else:
            self._bout_steps = 1
        self._last_step_t = t
        self._peak_rate = 0.0
        self._peak_accel = 0.0
