"""Which way the wearer faces and which way they walk, from the accelerations of gait alone.

Two cues in the horizontal plane, measured per frame while walking (body frame, z up):

* **the walking axis and direction of travel** -- the horizontal acceleration along the line of
  walking leads the vertical acceleration of the waist in one direction of travel and lags it in the
  other. The odd part of their lagged cross-covariance, ``sum(h[t-1] * v[t] - h[t] * v[t-1])``, is a
  vector along the walking axis, pointing where the wearer goes (on every development walk: SisFall
  D01/D02 40 of 40, UMAFall 15 of 19). Jogging has the opposite phase (SisFall D03/D04 39 of 39,
  UMAFall 8 of 8), so it is flipped while the wearer runs. Under time reversal it changes sign: it tells
  a forward walk from a backward one.
* **the anterior side** -- the heel strike brakes the trunk sharply, the push-off speeds it up gently,
  so the acceleration along the walking axis is skewed towards the back of the body (negative skewness
  on the anterior axis: SisFall D01 20 of 20, D02 16 of 20, UMAFall walks 16 of 19). Skewness does not
  change under time reversal, so it still points anterior in a backward walk *as far as the
  time-reversal proxy tells*; real backward walking may differ (the toe lands first), which no
  recording here can check. A configured ``forward_axis`` or ``retrowalk calibrate`` avoids relying on it.

Per-frame work is a few float multiply-adds while walking (the pipeline's hot loop).
"""
from __future__ import annotations

import math
from collections import deque
from typing import Optional, Tuple

#: a wearer whose typical step peak |a| is above this is running (the lead/lag cue flips)
RUNNING_ACCEL_G = 2.3
#: walking (not running) needed before the heading is decided
HEADING_WALK_S = 10.0
#: |skewness| needed along the walking axis before its anterior side is trusted
MIN_SKEW = 0.1
#: frames of the centred window whose mean is removed before the skewness: centred, so that the measure is
#: the same played backwards (a causal running mean made it differ: SisFall walks 36 vs 21 of 40)
_MEAN_FRAMES = 21

#: a walking bout with fewer frames of cue than this (3 s) is too short to tell: it joins the next bout of
#: the same walk (the first steps of a walk, a few steps around an obstacle)
MIN_BOUT_FRAMES = 60

FORWARD, BACKWARD, UNKNOWN = "forward", "backward", "unknown"


class GaitCues:
    """Accumulates the travel cue (3-D, body axes) over some frames: a bout, or everything so far."""

    __slots__ = ("ox", "oy", "oz", "frames", "_px", "_py", "_pz", "_pv")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.ox = self.oy = self.oz = 0.0
        self.frames = 0
        self._px = self._py = self._pz = self._pv = math.nan

    def add(self, hx: float, hy: float, hz: float, v: float, sign: float) -> None:
        """One frame: horizontal acceleration (body axes, g), vertical acceleration (g); ``sign`` -1 while
        running."""
        if self._pv == self._pv:
            self.ox += sign * (self._px * v - hx * self._pv)
            self.oy += sign * (self._py * v - hy * self._pv)
            self.oz += sign * (self._pz * v - hz * self._pv)
        self._px, self._py, self._pz, self._pv = hx, hy, hz, v
        self.frames += 1

    def rotate(self, m: Tuple[Tuple[float, ...], ...]) -> None:
        """Express the cue in new body axes (``m`` rows: the new axes in the old ones)."""
        o = (self.ox, self.oy, self.oz)
        self.ox, self.oy, self.oz = (sum(r[i] * o[i] for i in range(3)) for r in m)
        self._pv = math.nan

    def direction(self, anterior: Optional[Tuple[float, float, float]]) -> str:
        """``forward``/``backward`` along ``anterior`` (body axes), ``unknown`` without one or without data."""
        if anterior is None or self.frames < 10:
            return UNKNOWN
        along = self.ox * anterior[0] + self.oy * anterior[1] + self.oz * anterior[2]
        if along == 0.0:
            return UNKNOWN
        return FORWARD if along > 0 else BACKWARD


class HeadingLearner:
    """Learns the anterior direction in body axes (z up) from :data:`HEADING_WALK_S` of walking."""

    def __init__(self) -> None:
        self.cues = GaitCues()
        self.walk_s = 0.0
        self._window: deque = deque(maxlen=_MEAN_FRAMES)   # (hx, hy) of the last consecutive walking frames
        self._sum_x = self._sum_y = 0.0
        self._last_t = -math.inf
        # second and third moments of the de-meaned horizontal acceleration (x, y) while walking
        self._s = [0.0] * 7            # xx, xy, yy, xxx, xxy, xyy, yyy
        self._n = 0

    def add(self, t: float, dt: float, hx: float, hy: float, hz: float, v: float, running: bool) -> None:
        self.cues.add(hx, hy, hz, v, -1.0 if running else 1.0)
        window = self._window
        if running or t - self._last_t > 1.5 * dt:
            window.clear()             # the centred window holds consecutive walking frames only
            self._sum_x = self._sum_y = 0.0
        self._last_t = t
        if running:
            return
        if len(window) == _MEAN_FRAMES:
            ox, oy = window[0]
            self._sum_x -= ox
            self._sum_y -= oy
        window.append((hx, hy))
        self._sum_x += hx
        self._sum_y += hy
        if len(window) < _MEAN_FRAMES:
            return
        cx, cy = window[_MEAN_FRAMES // 2]
        dx, dy = cx - self._sum_x / _MEAN_FRAMES, cy - self._sum_y / _MEAN_FRAMES
        s = self._s
        s[0] += dx * dx; s[1] += dx * dy; s[2] += dy * dy                          # noqa: E702
        s[3] += dx * dx * dx; s[4] += dx * dx * dy; s[5] += dx * dy * dy; s[6] += dy * dy * dy  # noqa: E702
        self._n += 1
        self.walk_s += dt

    def anterior(self) -> Optional[Tuple[float, float, float]]:
        """The anterior unit vector (body axes, horizontal), once enough walking was seen; else None."""
        if self.walk_s < HEADING_WALK_S:
            return None
        n = math.hypot(self.cues.ox, self.cues.oy)
        if not n > 0:
            return None
        c, s = self.cues.ox / n, self.cues.oy / n
        m = self._s
        var = c * c * m[0] + 2 * c * s * m[1] + s * s * m[2]
        third = c ** 3 * m[3] + 3 * c * c * s * m[4] + 3 * c * s * s * m[5] + s ** 3 * m[6]
        frames = max(1, self._n)
        if not var > 0:
            return None
        skew = (third / frames) / (var / frames) ** 1.5
        if abs(skew) < MIN_SKEW:
            return None
        sign = -1.0 if skew > 0 else 1.0       # the anterior side is the one the skew points away from
        return (sign * c, sign * s, 0.0)
