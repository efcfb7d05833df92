"""What the pre-impact model looks at: one feature vector per frame, from the motion and a little history.

A fall is told from sitting down, a stumble or a jog by *how* the waist is going down: how long and how far
it has been descending, how the trunk tilts meanwhile, and what the wearer was doing just before (walking,
standing upright, sitting). :class:`FallFeatures` keeps that short history and turns each frame's
:class:`~firmware_py.detection.detectors.motion.Motion` into the vector the boosted trees of ``trees.py`` score.

The names in :data:`FEATURE_NAMES` are part of the model file's format: a model lists the names it was
trained on, and loading it checks them against these, so the two cannot drift apart silently.
"""
from __future__ import annotations

import math
from collections import deque
from typing import List

from firmware_py.detection.detectors.motion import Motion

#: the feature vector, in order; see :meth:`FallFeatures.update` for what each one is
FEATURE_NAMES = (
    "tilt_deg", "tilt_rate_dps", "vertical_speed_m_s", "accel_low_g", "vertical_accel_g", "lean_back_deg",
    "lean_side_deg", "back_rate_dps", "tilting_away_dps", "upright_ago_s", "walked_ago_s", "step_accel_g",
    "rate_over_gait", "descent_s", "descent_m", "descent_tilt_deg", "horizontal_accel_g", "accel_g",
    "roll_rate_dps", "yaw_rate_dps", "speed_before_m_s",
)

#: the features that need the heading (which way is back, which is left); a model for a wearer whose heading
#: is not known yet ("gravity only") is trained with them zeroed and scored the same way
DIRECTION_FEATURES = ("lean_back_deg", "lean_side_deg", "back_rate_dps", "roll_rate_dps")
DIRECTION_INDEX = tuple(FEATURE_NAMES.index(name) for name in DIRECTION_FEATURES)

#: the waist counts as going down below this vertical speed (m/s); a descent starts there
DESCENDING_M_S = -0.2
#: "what the wearer was doing" is forgotten after this long (s): the features saturate there
MEMORY_S = 5.0
#: frames back for ``speed_before_m_s`` (0.2 s at the default 50 ms frames)
SPEED_LAG_FRAMES = 4
#: until the stream is this old, "what the wearer was doing just before" is unknown (a recording that
#: starts mid-jog looks like someone who was neither walking nor upright): the model waits
WARM_UP_S = 1.5


class FallFeatures:
    """Streaming feature extractor; :meth:`update` once per frame, in order.

    Parameters
    ----------
    upright_deg : float
        Tilt under which the wearer counts as upright (for ``upright_ago_s``).
    """

    def __init__(self, upright_deg: float = 35.0) -> None:
        self._upright_deg = upright_deg
        self._prev_t = math.nan
        self._prev_tilt = 0.0
        self._first_t = math.nan
        self.upright_t = -math.inf      # last frame the trunk was within upright_deg
        self._walked_t = -math.inf
        self._speeds: deque = deque(maxlen=SPEED_LAG_FRAMES)
        self.descent_s = 0.0            # how long the waist has been going down, this descent
        self._descent_m = 0.0
        self._descent_from_tilt = 0.0

    @property
    def is_descending(self) -> bool:
        """The waist is going down now (the only frames a fall can be starting in)."""
        return self.descent_s > 0.0

    @property
    def descent_tilt_deg(self) -> float:
        """How much further from upright the trunk is than when this descent started (0: no descent)."""
        return self._prev_tilt - self._descent_from_tilt if self.descent_s > 0 else 0.0

    @property
    def is_warm(self) -> bool:
        """The features have :data:`WARM_UP_S` of history behind them."""
        return self._prev_t - self._first_t >= WARM_UP_S

    def update(self, mo: Motion) -> List[float]:
        """The feature vector of this frame (in :data:`FEATURE_NAMES` order)."""
        t, tilt, speed = mo.t_s, mo.tilt_deg, mo.vertical_speed_m_s
        dt = t - self._prev_t if t > self._prev_t else 0.0
        if self._first_t != self._first_t:
            self._first_t = t
        away = (tilt - self._prev_tilt) / dt if dt > 0 else 0.0
        if tilt < self._upright_deg:
            self.upright_t = t
        if mo.is_walking:
            self._walked_t = t
        if speed < DESCENDING_M_S:
            if self.descent_s == 0.0:
                self._descent_m, self._descent_from_tilt = 0.0, self._prev_tilt
            self.descent_s += dt
            self._descent_m += speed * dt
        else:
            self.descent_s, self._descent_m, self._descent_from_tilt = 0.0, 0.0, tilt
        speeds = self._speeds
        before = speeds[0] if speeds else speed     # the oldest kept: SPEED_LAG_FRAMES back once full
        speeds.append(speed)
        self._prev_t, self._prev_tilt = t, tilt
        return [
            tilt, mo.tilt_rate_dps, speed, mo.accel_low_g, mo.vertical_accel_g, mo.lean_back_deg,
            abs(mo.lean_left_deg), mo.back_rate_dps, away,
            min(MEMORY_S, t - self.upright_t), min(MEMORY_S, t - self._walked_t), mo.step_accel_g,
            mo.tilt_rate_dps / max(mo.step_rate_dps, 1.0),
            self.descent_s, self._descent_m, tilt - self._descent_from_tilt if self.descent_s > 0 else 0.0,
            mo.horizontal_accel_g, mo.accel_g, abs(mo.roll_rate_dps), abs(mo.yaw_rate_dps), before,
        ]
