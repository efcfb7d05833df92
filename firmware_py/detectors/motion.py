"""What the detectors see: one row per frame (~25 ms) of body-frame motion features."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Motion:
    """Per-frame features (m rows), built by the pipeline from frames, posture and gait.

    Angles are measured from the wearer's upright reference (see ``gait.py``), rates in the body frame.
    """

    t_s: np.ndarray                  # (m,) time of the frame's last sample
    t_peak_s: np.ndarray             # (m,) time of the frame's largest |a|
    accel_peak_g: np.ndarray         # (m,) largest |a| in the frame
    accel_low_g: np.ndarray          # (m,) smallest |a| in the frame (free fall → 0)
    tilt_deg: np.ndarray             # (m,) trunk angle from upright
    lean_back_deg: np.ndarray        # (m,) pitch from upright, positive backwards
    lean_left_deg: np.ndarray        # (m,) roll from upright, positive to the left
    tilt_rate_dps: np.ndarray        # (m,) how fast the trunk tilts (|ω × up|), any direction
    back_rate_dps: np.ndarray        # (m,) pitch rate, positive when tipping backwards
    vertical_speed_m_s: np.ndarray   # (m,) upward speed of the waist (negative = going down)
    is_walking: np.ndarray           # (m,) bool
    step_rate_dps: np.ndarray        # (m,) gait envelope: typical peak trunk rate per step
    step_accel_g: np.ndarray         # (m,) gait envelope: typical peak |a| per step
    is_still: np.ndarray             # (m,) no motion beyond sensor noise and breathing

    def __len__(self) -> int:
        return len(self.t_s)


def direction_of(lean_back_deg: float, lean_left_deg: float) -> str:
    """The direction the trunk leans, in the wearer's words."""
    if abs(lean_back_deg) >= abs(lean_left_deg):
        return "backward" if lean_back_deg > 0 else "forward"
    return "left" if lean_left_deg > 0 else "right"
