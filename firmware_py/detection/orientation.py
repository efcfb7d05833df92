"""Trunk tilt from vertical, its direction, and the vertical motion of the waist.

A complementary filter in the shape of Mahony's / Fusion's AHRS, reduced to what a fall detector needs:
the direction of "up" seen from the body frame (see ``calibration.py``), a unit vector ``up``.

* Prediction: the gyroscope rotates ``up`` every frame (exact rotation of the frame's mean rate).
* Correction: the accelerometer pulls ``up`` towards the measured specific force with a gain of
  ``gain_per_s`` -- but only when |a| is within ``accel_rejection_g`` of 1 g *and* within
  ``accel_rejection_deg`` of the current estimate (Fusion's acceleration rejection). Through the
  free fall and impact of a fall the accelerometer is therefore ignored and the tilt comes from the gyro.
* Recovery: when the accelerometer has been rejected for ``recovery_s`` although |a| ≈ 1 g, or the
  gyroscope went over its range (its integral is then wrong), the filter converges quickly to the
  accelerometer (Fusion's recovery trigger), so a clipped fall still ends with the right posture.

Derived per frame: ``tilt_deg`` (0 upright, 90 lying), ``lean_back_deg`` (trunk pitched backwards,
negative = forwards) and ``lean_left_deg``, all from :func:`tilt_and_lean_deg`; the vertical acceleration
of the waist (g, gravity removed) and its leaky integral, the vertical velocity (m/s, negative = moving down).

The recursion runs once per frame (~50 ms) on plain Python floats (a handful of numpy calls would cost
more than the arithmetic on so few values); all per-sample work is numpy in ``frames.py``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Tuple

import numpy as np

from firmware_py.settings_checks import require_positive

STANDARD_GRAVITY_M_S2 = 9.80665
#: the start-up convergence lasts at least this long (s): the first reading may be a jog's or a step's
#: acceleration, not gravity, and agreeing with itself must not end the convergence at once
STARTUP_S = 0.5


@dataclass(frozen=True)
class OrientationSettings:
    """Settings of the tilt filter (defaults suit a waist-worn sensor).

    Attributes
    ----------
    gain_per_s : how fast the accelerometer corrects the gyro (1/s; 1 → time constant 1 s)
    accel_rejection_g : ignore the accelerometer when | |a| - 1 g | exceeds this
    accel_rejection_deg : ignore it when it disagrees with the estimate by more than this
    recovery_s : after this long of disagreement (|a| ≈ 1 g), trust the accelerometer again, fast
    recovery_gain_per_s : correction gain while recovering
    velocity_leak_s : time constant that forgets vertical velocity (integration drift)
    gravity_s : time constant of the running mean of |a| along "up" that stands for 1 g
    bias_gain_per_s2 : Mahony's integral gain: how fast the gyro bias is learned (1/s²)
    max_bias_dps : the largest gyro bias the filter may learn (°/s)
    accel_smoothing_s : low-pass of the accelerometer before it corrects the tilt

    The gyroscope's full scale is not here: it is ``[sensor] gyro_range_dps``, which the pipeline is given.
    """

    gain_per_s: float = 1.0
    accel_rejection_g: float = 0.2
    accel_rejection_deg: float = 20.0
    recovery_s: float = 1.5
    recovery_gain_per_s: float = 8.0
    velocity_leak_s: float = 1.0
    bias_gain_per_s2: float = 0.05
    max_bias_dps: float = 20.0
    accel_smoothing_s: float = 0.3
    gravity_s: float = 3.0

    def __post_init__(self) -> None:
        require_positive(self, "gain_per_s", "accel_rejection_g", "accel_rejection_deg", "recovery_s",
                         "recovery_gain_per_s", "velocity_leak_s", "bias_gain_per_s2",
                         "max_bias_dps", "accel_smoothing_s", "gravity_s")
        if self.accel_rejection_deg >= 90:
            raise ValueError(f"accel_rejection_deg = {self.accel_rejection_deg} is not allowed; use less than 90")


def tilt_and_lean_deg(up: Tuple[float, float, float],
                      reference_up: Tuple[float, float, float] = (0.0, 0.0, 1.0)) -> Tuple[float, float, float]:
    """``(tilt_deg, lean_back_deg, lean_left_deg)`` of the unit vector ``up`` (body axes) measured from
    ``reference_up``: the angle between them, and its pitch (positive backwards) and roll (positive to the
    left) parts. The one definition of tilt and lean: the pipeline measures from the wearer's upright
    reference (``gait.py``), :meth:`OrientationFilter.update` from the body's z axis."""
    ux, uy, uz = up
    rx, ry, rz = reference_up
    return (math.degrees(math.acos(max(-1.0, min(1.0, ux * rx + uy * ry + uz * rz)))),
            math.degrees(math.atan2(ux, uz) - math.atan2(rx, rz)),
            math.degrees(math.atan2(-uy, uz) - math.atan2(-ry, rz)))


@dataclass(frozen=True)
class Posture:
    """Per-frame orientation outputs (m rows)."""

    up: np.ndarray               # (m, 3) unit vector of "up" in body axes
    tilt_deg: np.ndarray         # (m,) trunk angle from vertical
    lean_back_deg: np.ndarray    # (m,) pitch, positive when the trunk leans backwards
    lean_left_deg: np.ndarray    # (m,) roll, positive when the trunk leans to the left
    vertical_accel_g: np.ndarray     # (m,) upward acceleration of the waist, gravity removed
    vertical_speed_m_s: np.ndarray   # (m,) upward velocity (negative: going down), leaky
    is_recovering: np.ndarray        # (m,) the filter is re-converging to the accelerometer


class OrientationFilter:
    """Streaming tilt filter; state is the ``up`` vector, the learned gyro bias, a gravity baseline and a
    vertical velocity. Call :meth:`step` once per frame; read the outputs from the attributes."""

    def __init__(self, settings: OrientationSettings = OrientationSettings()) -> None:
        self.settings = settings
        s = settings
        self._cos_reject = math.cos(math.radians(s.accel_rejection_deg))
        self._cos_recovered = math.cos(math.radians(3.0))
        self._max_bias = math.radians(s.max_bias_dps)
        self.up = (0.0, 0.0, 1.0)        # unit "up" in body axes
        self.vertical_accel_g = 0.0      # upward acceleration of the waist, gravity removed
        self.vertical_speed_m_s = 0.0    # upward velocity (negative: going down), leaky integral
        self.is_recovering = True        # converge fast from the first frames (Fusion's start-up ramp)
        self._started = False
        self._age_s = 0.0                # since the filter started (start-up convergence)
        self._gravity_g = 1.0            # what this accelerometer reads at rest (scale errors of a few %)
        self._rejected_s = 0.0
        self._bias = (0.0, 0.0, 0.0)     # rad/s, Mahony's integral term: the gyro bias the filter learned
        self._smooth = (0.0, 0.0, 1.0)   # low-passed accelerometer (dynamic accelerations average out)

    @property
    def is_starting(self) -> bool:
        """The start-up convergence (:data:`STARTUP_S`) is not over: "up" may still be far off."""
        return not self._started or self._age_s < STARTUP_S

    def rotate(self, rows) -> None:
        """The body axes turned (a mounting re-base; ``rows``: the new axes in the old ones): express the
        filter's vectors in the new axes, so the tilt goes on without a jump."""
        from firmware_py.detection.mounting import rotate
        self.up, self._smooth, self._bias = rotate(rows, self.up), rotate(rows, self._smooth), rotate(rows, self._bias)

    def step(self, dt: float, ax: float, ay: float, az: float, wx_dps: float, wy_dps: float, wz_dps: float,
             is_overrange: bool = False, is_gap: bool = False) -> None:
        """Advance one frame: ``dt`` s, mean body-frame acceleration (g) and angular rate (°/s).

        After a gap the vertical velocity is forgotten and the filter re-converges to the accelerometer,
        since the motion during the gap is unknown."""
        s = self.settings
        if not self._started:
            amag0 = math.sqrt(ax * ax + ay * ay + az * az)
            if not 0.5 < amag0 < 2.0:
                return                   # no plausible gravity reading yet (a dropped or zeroed sample)
            self.up = (ax / amag0, ay / amag0, az / amag0)
            self._gravity_g = min(1.2, max(0.8, amag0))
            self._smooth = (ax, ay, az)
            self._started = True
            self._age_s = 0.0
        self._age_s += dt
        vx, vy, vz = self.up
        bx, by, bz = self._bias
        rad = 0.017453292519943295
        wx, wy, wz = wx_dps * rad - bx, wy_dps * rad - by, wz_dps * rad - bz
        w = math.sqrt(wx * wx + wy * wy + wz * wz)
        if w > 1e-9:
            # a world-fixed vector seen from the body turns by -w*dt (Rodrigues)
            th = -w * dt
            kx, ky, kz = wx / w, wy / w, wz / w
            c, sn = math.cos(th), math.sin(th)
            kv = (kx * vx + ky * vy + kz * vz) * (1.0 - c)
            vx, vy, vz = (vx * c + (ky * vz - kz * vy) * sn + kx * kv,
                          vy * c + (kz * vx - kx * vz) * sn + ky * kv,
                          vz * c + (kx * vy - ky * vx) * sn + kz * kv)
        recovering = self.is_recovering or is_overrange or is_gap
        if is_gap:
            self.vertical_speed_m_s = 0.0
        sx, sy, sz = self._smooth
        ks = min(1.0, dt / s.accel_smoothing_s)
        sx, sy, sz = sx + ks * (ax - sx), sy + ks * (ay - sy), sz + ks * (az - sz)
        self._smooth = (sx, sy, sz)
        base = self._gravity_g
        smag = math.sqrt(sx * sx + sy * sy + sz * sz)
        if abs(smag - base) < s.accel_rejection_g and smag > 1e-6:
            ux, uy, uz = sx / smag, sy / smag, sz / smag
            cos_err = ux * vx + uy * vy + uz * vz
            k = 0.0
            if recovering:
                k = min(1.0, s.recovery_gain_per_s * dt)
                if cos_err > self._cos_recovered and self._age_s >= STARTUP_S:
                    recovering = False
            elif cos_err > self._cos_reject:
                k = s.gain_per_s * dt
                self._rejected_s = 0.0
                # Mahony integral term: a steady disagreement is gyro bias; learn it (u x v is the
                # rotation that would close the gap: as a rate, it is what the gyro failed to report)
                ki, mb = s.bias_gain_per_s2 * dt, self._max_bias
                self._bias = (min(mb, max(-mb, bx - ki * (uy * vz - uz * vy))),
                              min(mb, max(-mb, by - ki * (uz * vx - ux * vz))),
                              min(mb, max(-mb, bz - ki * (ux * vy - uy * vx))))
            else:
                self._rejected_s += dt
                if self._rejected_s > s.recovery_s:
                    recovering, self._rejected_s = True, 0.0
            if k > 0.0:
                vx, vy, vz = vx + k * (ux - vx), vy + k * (uy - vy), vz + k * (uz - vz)
        n = math.sqrt(vx * vx + vy * vy + vz * vz)
        if not n > 1e-6:                 # NaN or collapsed (garbage input): start again from the accelerometer
            self._started = False
            return
        vx, vy, vz = vx / n, vy / n, vz / n
        self.up = (vx, vy, vz)
        self.is_recovering = recovering
        along = ax * vx + ay * vy + az * vz
        vert = along - base
        # the accelerometer's reading of 1 g (scale error of a few %), as the long-run mean along "up":
        # without it the integrated vertical speed drifts by metres per second
        self._gravity_g = min(1.15, max(0.85, base + (along - base) * min(1.0, dt / s.gravity_s)))
        self.vertical_accel_g = vert
        v = self.vertical_speed_m_s
        self.vertical_speed_m_s = v + vert * STANDARD_GRAVITY_M_S2 * dt - v * min(1.0, dt / s.velocity_leak_s)

    def update(self, dt_s: np.ndarray, accel_g: np.ndarray, gyro_dps: np.ndarray,
               gyro_overrange: np.ndarray | None = None, is_gap: np.ndarray | None = None) -> Posture:
        """:meth:`step` over m frames given as arrays; returns the per-frame outputs (for analysis, tests)."""
        m = len(dt_s)
        up, vert, speed, rec = np.empty((m, 3)), np.empty(m), np.empty(m), np.zeros(m, dtype=bool)
        over = gyro_overrange if gyro_overrange is not None else np.zeros(m, dtype=bool)
        gaps = is_gap if is_gap is not None else np.zeros(m, dtype=bool)
        for i, (dt, a, w, o, g) in enumerate(zip(dt_s.tolist(), accel_g.tolist(), gyro_dps.tolist(),
                                                 over.tolist(), gaps.tolist())):
            self.step(dt, a[0], a[1], a[2], w[0], w[1], w[2], o, g)
            up[i] = self.up
            vert[i], speed[i], rec[i] = self.vertical_accel_g, self.vertical_speed_m_s, self.is_recovering
        tilt, back, left = np.array([tilt_and_lean_deg(row) for row in up.tolist()]).reshape(m, 3).T
        return Posture(up=up, tilt_deg=tilt, lean_back_deg=back, lean_left_deg=left,
                       vertical_accel_g=vert, vertical_speed_m_s=speed, is_recovering=rec)
