"""The motion features of one frame: from the stages' outputs (orientation, gait) to the :class:`Motion`
record every detector reads.

The pipeline steps the stages and calls :func:`tilt_rate_dps` and :meth:`MotionFeatures.update` once per
frame (~50 ms). Both work on plain Python floats: with ~2 frames per 0.1 s block, numpy's per-call cost
would outweigh the arithmetic (see bench/pipeline.py).
"""
from __future__ import annotations

import math
from typing import Sequence, Tuple

from firmware_py.detection.detectors.motion import Motion
from firmware_py.detection.gait import GaitTracker
from firmware_py.detection.orientation import OrientationFilter, tilt_and_lean_deg

#: the largest |a| spread within a frame (g) that still counts as still (beside the angular rate)
STILL_ACCEL_SPREAD_G = 0.1


def tilt_rate_dps(up: Sequence[float], wx: float, wy: float, wz: float) -> float:
    """How fast "up" moves in the body (°/s): |w x up|, so turning about the vertical does not tilt the trunk.

    ``up`` is the unit vector of "up" in body axes, ``wx, wy, wz`` the body-frame angular rate (°/s)."""
    ux, uy, uz = up
    cx, cy, cz = wy * uz - wz * uy, wz * ux - wx * uz, wx * uy - wy * ux
    return math.sqrt(cx * cx + cy * cy + cz * cz)


class MotionFeatures:
    """Fills one :class:`Motion` record (``motion``) frame after frame.

    Parameters
    ----------
    still_rate_dps : float
        Angular rate below which the wearer counts as still (with a frame's |a| spread under
        :data:`STILL_ACCEL_SPREAD_G`).
    heading_known : bool
        Whether the body frame's x axis is known to be anterior (else the direction fields say ``unknown``).
    """

    def __init__(self, still_rate_dps: float, heading_known: bool) -> None:
        self.motion = Motion(heading_known=heading_known)
        self._still_rate_dps = still_rate_dps

    def update(self, t_s: float, t_peak_s: float, accel_peak_g: float, accel_low_g: float, accel_spread_g: float,
               ax: float, ay: float, az: float, wx: float, wy: float, wz: float, tilt_rate: float,
               orientation: OrientationFilter, gait: GaitTracker) -> Tuple[float, float, float]:
        """One frame, after ``orientation`` and ``gait`` were stepped on it: its summaries (``frames.py``), the
        mean body-frame acceleration (g) and angular rate (°/s), and its :func:`tilt_rate_dps`.

        Returns the frame's horizontal acceleration (body axes, g: the mean acceleration across "up"), which
        the walking-direction cues (``heading.py``) accumulate."""
        mo = self.motion
        ux, uy, uz = up = orientation.up
        still_rate = self._still_rate_dps
        mo.t_s, mo.t_peak_s, mo.accel_peak_g, mo.accel_low_g = t_s, t_peak_s, accel_peak_g, accel_low_g
        mo.tilt_deg, mo.lean_back_deg, mo.lean_left_deg = tilt_and_lean_deg(up, gait.reference_up)
        mo.tilt_rate_dps = tilt_rate
        mo.back_rate_dps = -wy
        mo.vertical_speed_m_s = orientation.vertical_speed_m_s
        mo.is_walking = gait.is_walking
        mo.walk_steps = gait.bout_steps
        mo.step_rate_dps, mo.step_accel_g = gait.step_rate_dps, gait.step_accel_g
        mo.is_still = (accel_spread_g < STILL_ACCEL_SPREAD_G
                       and wx * wx + wy * wy + wz * wz < still_rate * still_rate)
        along = ax * ux + ay * uy + az * uz
        hx, hy, hz = ax - along * ux, ay - along * uy, az - along * uz
        mo.vertical_accel_g = orientation.vertical_accel_g
        mo.horizontal_accel_g = math.sqrt(hx * hx + hy * hy + hz * hz)
        mo.accel_g = math.sqrt(ax * ax + ay * ay + az * az)
        mo.roll_rate_dps, mo.yaw_rate_dps = wx, wz
        return hx, hy, hz
