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

A trip or a slip is a perturbation the wearer *recovers from*, and it shows in two more ways, both asked
for before the verdict:

- **evidence of a perturbation**: either a jolt (|a| beyond the envelope, as above) or a break in the step
  rhythm within ``confirm_s`` (a step ``rhythm_change`` times quicker or later than the wearer's typical
  step interval just before: the caught foot, the hurried recovery step, the hesitation). A fast trunk
  swing with neither, while the steps go on at the same pace, is the wearer's own movement (a glance
  back, a lean): in the development walks played backwards, three such swings passed 2x the envelope;
- **recovery to walking**: the next ``settle_steps`` steps after the verdict are walking steps again (their
  median peak |a| at most ``running_accel_g``). A wearer whose steps go on as running steps broke into a
  run, and the "jolt" was their first strides, before the envelope learned the pace (a jog that starts at
  full speed). The chirp waits for those steps (or ``settle_s`` when the wearer stands still).
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import List, Optional, Tuple

from firmware_py.detection.detectors.motion import Motion
from firmware_py.events import STUMBLE, Event
from firmware_py.settings_checks import require_positive

#: step intervals the wearer's typical one is the median of (the steps just before a perturbation)
_RHYTHM_STEPS = 4


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
    rhythm_change : a step interval this many times shorter or longer than the wearer's typical one breaks the
        step rhythm; a perturbation with neither that nor an |a| jolt is the wearer's own movement
    settle_steps : steps after the trunk is upright again whose median peak |a| must be walking's (at most
        running_accel_g); running steps mean the wearer broke into a run, which is no stumble
    settle_s : longest wait for those steps (a wearer who stands still after a stumble has recovered)
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
    rhythm_change: float = 1.4
    settle_steps: int = 3
    settle_s: float = 3.0

    def __post_init__(self) -> None:
        require_positive(self, prefix="stumble.")
        if self.rhythm_change <= 1.0:
            raise ValueError(f"stumble.rhythm_change = {self.rhythm_change!r} is not allowed; use more than 1 "
                             f"(a step interval that many times the typical one, or its inverse)")


class StumbleDetector:
    """Streaming stumble detector; see the module docstring. :meth:`step` once per frame."""

    def __init__(self, settings: StumbleSettings = StumbleSettings()) -> None:
        self.settings = settings
        self._last_walking_t = -math.inf
        self._start_t = math.nan          # perturbation under watch (NaN: none)
        self._features: dict = {}
        self._last_stumble_t = -math.inf
        self._walk_steps = 0              # steps of the last walk (the envelope has learned from them)
        self._run_steps = 0               # walk_steps at the last frame (a change is a new step)
        self._step_times: List[float] = []    # the last steps of the current run of steps
        self._step_peak_g = 0.0           # largest |a| since the last step
        self._typical_s = math.nan        # median step interval just before the perturbation (NaN: unknown)
        self._jolted = False              # the perturbation under watch showed a jolt ...
        self._rhythm_change = 0.0         # ... or this much change of step interval (the largest)
        self._settle_t = math.nan         # upright again after a perturbation: waiting for the next steps
        self._settle_peaks: List[float] = []
        self._verdict: Optional[Event] = None     # the stumble to report once the steps are walking steps

    def step(self, mo: Motion, alarm_t: float, fall_pending: bool, walk_ended: bool = False) -> Optional[Event]:
        """One frame; ``alarm_t`` is the last loss_of_balance / fall detection time, ``fall_pending`` whether
        an impact is being judged, ``walk_ended`` whether the walk ended at this frame (a stumble waiting for
        the next steps is decided now, so that walk's summary counts it)."""
        s = self.settings
        t = mo.t_s
        if mo.is_walking:
            self._last_walking_t = t
            self._walk_steps = mo.walk_steps
        stepped, step_peak_g = self._track_steps(mo)
        if self._settle_t == self._settle_t:      # not NaN: a verdict waits for the next steps
            return self._settle(t, stepped, step_peak_g, alarm_t, fall_pending, walk_ended)
        jolt = mo.accel_peak_g > max(s.min_accel_g, s.accel_ratio * mo.step_accel_g)
        trigger = jolt or mo.tilt_rate_dps > max(s.min_rate_dps, s.rate_ratio * mo.step_rate_dps)
        if self._start_t != self._start_t:        # NaN: idle
            # after a walk ended, the first steps of the next one count as its start: no stumble is judged
            # there (walk_steps is the new run's), as in the first min_walk_steps of any walk
            same_walk = mo.is_walking or mo.walk_steps == 0
            if (trigger and t - self._last_walking_t <= s.walking_within_s and same_walk
                    and t - self._last_stumble_t >= s.refractory_s and mo.step_accel_g <= s.running_accel_g
                    and self._walk_steps >= s.min_walk_steps):
                self._start_t = t
                before = self._step_times[:-1] if stepped else self._step_times
                self._typical_s = _median([b - a for a, b in zip(before, before[1:])])
                self._jolted, self._rhythm_change = jolt, 0.0
                self._features = {"peak_accel_g": round(mo.accel_peak_g, 2),
                                  "trunk_rate_dps": round(mo.tilt_rate_dps, 1),
                                  "envelope_rate_dps": round(mo.step_rate_dps, 1),
                                  "envelope_accel_g": round(mo.step_accel_g, 2)}
            return None
        if t - self._start_t < s.confirm_s:
            self._jolted = self._jolted or jolt
            self._watch_rhythm(t, stepped)
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
        if not (self._jolted or self._rhythm_change > s.rhythm_change):
            return None                           # a trunk swing on an unbroken rhythm: the wearer's own
        features = dict(self._features, tilt_deg=round(mo.tilt_deg, 1), direction=mo.direction)
        self._verdict = Event(STUMBLE, t_onset_s=start, t_detect_s=t, features=features)
        self._settle_t, self._settle_peaks = t, []
        # the steps after the verdict are judged on their own peaks: without a step since the jolt, the next
        # step's peak would be the jolt's, and a wearer who paused after a trip would look like a runner
        self._step_peak_g = 0.0
        return None

    def _track_steps(self, mo: Motion) -> Tuple[bool, float]:
        """Whether a step came at this frame (``walk_steps`` changed to a run's count), and the largest |a|
        since the step before (the step's peak, as the gait envelope sees it)."""
        stepped = mo.walk_steps != self._run_steps and mo.walk_steps > 0
        self._run_steps = mo.walk_steps
        self._step_peak_g = max(self._step_peak_g, mo.accel_peak_g)
        peak = self._step_peak_g
        if stepped:
            if mo.walk_steps == 1:                # a new run of steps: the last one's rhythm is not its own
                self._step_times = []
            self._step_times = (self._step_times + [mo.t_s])[-_RHYTHM_STEPS - 1:]
            self._step_peak_g = 0.0
        return stepped, peak

    def _watch_rhythm(self, t: float, stepped: bool) -> None:
        """Within ``confirm_s`` of the perturbation: the largest change of step interval from the typical one,
        a late step (the time since the last step) counting as soon as it is late."""
        typical, times = self._typical_s, self._step_times
        if typical != typical or not times:
            return
        change = (t - times[-1]) / typical
        if stepped and len(times) >= 2:    # this frame's step: its interval is the new one
            interval = times[-1] - times[-2]
            change = max(change, interval / typical, typical / interval)
        self._rhythm_change = max(self._rhythm_change, change)

    def _settle(self, t: float, stepped: bool, step_peak_g: float, alarm_t: float,
                fall_pending: bool, walk_ended: bool) -> Optional[Event]:
        """After an upright verdict: wait for ``settle_steps`` steps (at most ``settle_s``) and report the
        stumble if they are walking steps."""
        s, verdict = self.settings, self._verdict
        assert verdict is not None
        if stepped:
            self._settle_peaks.append(step_peak_g)
        if alarm_t >= verdict.t_onset_s - 0.5:
            self._settle_t = math.nan             # the fall detectors own the episode after all
            return None
        if fall_pending or (len(self._settle_peaks) < s.settle_steps and t - self._settle_t < s.settle_s
                            and not walk_ended):
            return None
        self._settle_t = math.nan
        steps_peak_g = _median(self._settle_peaks[:s.settle_steps])
        if steps_peak_g > s.running_accel_g:
            return None                           # running steps: the wearer broke into a run
        self._last_stumble_t = t
        return Event(STUMBLE, t_onset_s=verdict.t_onset_s, t_detect_s=t, features=verdict.features)


def _median(values: List[float]) -> float:
    """The median (the upper one of an even count), NaN of nothing."""
    return statistics.median_high(values) if values else math.nan
