"""How the sensor sits on the body, and how much of that is known: a state, never a precondition.

* ``calibrated`` -- from ``retrowalk calibrate`` (or a dataset that knows how its device was worn);
* ``learned`` -- gravity from the first samples, then from walking (the upright the wearer keeps), and the
  heading from a configured ``forward_axis`` or learned from gait (``heading.py``);
* ``gravity only`` -- "up" is known, the heading is not: tilt magnitude, vertical speed, rates and impacts
  work, so fall, help_needed and loss_of_balance run; the direction fields of events say ``unknown``.

Detection starts at the first frame with a plausible gravity reading (|a| between 0.5 and 2 g): a wearer
who switches on and walks off is protected from the first steps. The first frame's "up" may be tilted by
the wearer's motion or posture; the orientation filter follows the true vertical from there, and once the
wearer walks, the body frame is re-based on the upright they keep while walking. A re-base turns the body
axes under the stages that hold vectors (orientation, gait, the gait cues) by the same rotation.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import numpy as np

from firmware_py.detection.calibration import (UPRIGHT_MAX_FORWARD_ELEVATION_DEG, Calibration, forward_elevation_deg,
                                               rotation_from_gravity)

CALIBRATED, LEARNED, GRAVITY_ONLY = "calibrated", "learned", "gravity only"
MOUNTING_STATES = (CALIBRATED, LEARNED, GRAVITY_ONLY)

#: a walking posture further than this from the body's z axis means the start-up "up" was not upright
REBASE_UPRIGHT_DEG = 35.0
#: steps of walking before such a start-up "up" is replaced by the walking one
REBASE_AFTER_STEPS = 8


def plausible_gravity(accel_g: np.ndarray) -> int:
    """Index of the first frame whose mean |a| could be gravity (0.5 to 2 g), or -1."""
    mag = np.sqrt(np.einsum("ij,ij->i", accel_g, accel_g))
    hits = np.flatnonzero((mag > 0.5) & (mag < 2.0))
    return int(hits[0]) if hits.size else -1


def first_upright(accel_g: np.ndarray, forward_axis: str) -> int:
    """Index of the first frame that could be gravity with the configured ``forward_axis`` near horizontal
    (standing, sitting: not lying on the back or front), or -1."""
    first = plausible_gravity(accel_g)
    if first < 0 or not forward_axis:
        return first
    for i in range(first, len(accel_g)):
        if forward_elevation_deg(accel_g[i], forward_axis) <= UPRIGHT_MAX_FORWARD_ELEVATION_DEG:
            return i
    return -1


def start_from_gravity(up_sensor: Sequence[float], forward_axis: str) -> Tuple[Calibration, str]:
    """A first body frame from one gravity reading: z along it, x from ``forward_axis`` when one is
    configured (state ``learned``), else from the most horizontal sensor axis (``gravity only``)."""
    up = np.asarray(up_sensor, dtype=float)
    if forward_axis:
        try:
            return Calibration(body_from_sensor=rotation_from_gravity(up, forward_axis)), LEARNED
        except ValueError:
            pass                            # the configured axis is vertical as worn: no heading from it
    axis = "+" + "xyz"[int(np.argmin(np.abs(up)))]
    return Calibration(body_from_sensor=rotation_from_gravity(up, axis)), GRAVITY_ONLY


def rebase_rows(up: Sequence[float], anterior: Optional[Sequence[float]]) -> Tuple[Tuple[float, ...], ...]:
    """The new body axes written in the old ones: z along ``up``, x along ``anterior`` made horizontal
    (or the old x made horizontal when no anterior is given)."""
    z = np.asarray(up, dtype=float)
    z = z / np.linalg.norm(z)
    x = np.asarray(anterior if anterior is not None else (1.0, 0.0, 0.0), dtype=float)
    x = x - z * float(x @ z)
    if np.linalg.norm(x) < 1e-3:            # old x is vertical now: any horizontal axis will do
        x = np.array([0.0, 1.0, 0.0]) - z * z[1]
    x = x / np.linalg.norm(x)
    y = np.cross(z, x)
    return tuple(tuple(float(v) for v in row) for row in (x, y, z))


def rotate(rows: Tuple[Tuple[float, ...], ...], v: Sequence[float]) -> Tuple[float, float, float]:
    """``rows @ v`` on plain floats."""
    return tuple(r[0] * v[0] + r[1] * v[1] + r[2] * v[2] for r in rows)  # type: ignore[return-value]


#: time constant of the walking posture that a re-base trusts (a fall is over long before it follows)
WALKING_UP_S = 3.0


def follow(walking_up: tuple, up: Sequence[float], t_s: float) -> tuple:
    """``(t_s, mean up)``: the slow mean of "up" while walking, restarted after a pause of more than 2 s."""
    last_t, (x, y, z) = walking_up
    dt = t_s - last_t
    if not dt < 2.0:
        return t_s, tuple(up)
    k = min(1.0, dt / WALKING_UP_S)
    x, y, z = x + k * (up[0] - x), y + k * (up[1] - y), z + k * (up[2] - z)
    n = math.sqrt(x * x + y * y + z * z) or 1.0
    return t_s, (x / n, y / n, z / n)


def needs_upright_rebase(walking_up: tuple, up: Sequence[float], bout_steps: int) -> bool:
    """Walking steadily far from the body's z: the start-up "up" was a lying or sitting posture."""
    mean = walking_up[1]
    far = math.cos(math.radians(REBASE_UPRIGHT_DEG))
    steady = mean[0] * up[0] + mean[1] * up[1] + mean[2] * up[2] > math.cos(math.radians(10.0))
    return bout_steps >= REBASE_AFTER_STEPS and mean[2] < far and up[2] < far and steady
