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
negative = forwards), ``lean_left_deg``, the vertical acceleration of the waist (g, gravity removed) and
its leaky integral, the vertical velocity (m/s, negative = moving down).

The recursion runs once per frame (~25 ms) as a tight loop over Python floats; all per-sample work is
numpy in ``frames.py``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

STANDARD_GRAVITY_M_S2 = 9.80665


@dataclass(frozen=True)
class OrientationSettings:
    """Settings of the tilt filter (defaults suit a waist-worn sensor).

    Attributes
    ----------
    gain_per_s : how fast the accelerometer corrects the gyro (1/s; 0.5 → time constant 2 s)
    accel_rejection_g : ignore the accelerometer when | |a| - 1 g | exceeds this
    accel_rejection_deg : ignore it when it disagrees with the estimate by more than this
    recovery_s : after this long of disagreement (|a| ≈ 1 g), trust the accelerometer again, fast
    recovery_gain_per_s : correction gain while recovering
    velocity_leak_s : time constant that forgets vertical velocity (integration drift)
    gyro_range_dps : the gyroscope's full scale (samples at it are overrange)
    """

    gain_per_s: float = 1.0
    accel_rejection_g: float = 0.2
    accel_rejection_deg: float = 20.0
    recovery_s: float = 1.5
    recovery_gain_per_s: float = 8.0
    velocity_leak_s: float = 1.0
    gyro_range_dps: float = 2000.0
    bias_gain_per_s2: float = 0.05
    max_bias_dps: float = 20.0
    accel_smoothing_s: float = 0.3

    def __post_init__(self) -> None:
        for name in ("gain_per_s", "accel_rejection_g", "accel_rejection_deg", "recovery_s",
                     "recovery_gain_per_s", "velocity_leak_s", "gyro_range_dps", "bias_gain_per_s2",
                     "max_bias_dps", "accel_smoothing_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"{name} = {value!r} is not allowed; use a positive number")
        if self.accel_rejection_deg >= 90:
            raise ValueError(f"accel_rejection_deg = {self.accel_rejection_deg} is not allowed; use less than 90")


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
    """Streaming tilt filter; state is the ``up`` vector, a gravity baseline and a velocity."""

    def __init__(self, settings: OrientationSettings = OrientationSettings()) -> None:
        self.settings = settings
        self._up = None              # set from the first frame's accelerometer
        self._gravity_g = 1.0        # what this accelerometer reads at rest (scale errors of a few %)
        self._speed_m_s = 0.0
        self._rejected_s = 0.0
        self._recovering = True              # converge fast from the first frames (Fusion's start-up ramp)
        self._bias_rad_s = [0.0, 0.0, 0.0]   # Mahony's integral term: the gyro bias the filter has learned
        self._smooth = None                   # low-passed accelerometer (dynamic accelerations average out)

    def reset_motion(self) -> None:
        """Forget the vertical velocity (after a gap in the samples)."""
        self._speed_m_s = 0.0

    def update(self, dt_s: np.ndarray, accel_g: np.ndarray, gyro_dps: np.ndarray,
               gyro_overrange: np.ndarray, is_gap: np.ndarray | None = None) -> Posture:
        """Run the filter over m frames of body-frame means; returns per-frame outputs.

        After a gap (``is_gap``) the vertical velocity is forgotten and the filter re-converges to the
        accelerometer, since the motion during the gap is unknown."""
        s = self.settings
        m = len(dt_s)
        out_up = np.empty((m, 3))
        out_vert = np.empty(m)
        out_speed = np.empty(m)
        out_rec = np.zeros(m, dtype=bool)
        cos_reject = math.cos(math.radians(s.accel_rejection_deg))
        cos_recovered = math.cos(math.radians(3.0))
        rej_g, gain, rec_gain = s.accel_rejection_g, s.gain_per_s, s.recovery_gain_per_s
        leak_s, recovery_s = s.velocity_leak_s, s.recovery_s
        if self._up is None and m:
            a0 = accel_g[0]
            self._up = (a0 / max(float(np.linalg.norm(a0)), 1e-6)).tolist()
            self._gravity_g = float(np.clip(np.linalg.norm(a0), 0.8, 1.2))
            self._smooth = a0.tolist()
        if not m:
            return _posture(out_up, out_vert, out_speed, out_rec)
        vx, vy, vz = self._up
        bx, by, bz = self._bias_rad_s
        sx, sy, sz = self._smooth
        ki, max_bias = s.bias_gain_per_s2, math.radians(s.max_bias_dps)
        smooth_s = s.accel_smoothing_s
        base, speed, rejected, recovering = self._gravity_g, self._speed_m_s, self._rejected_s, self._recovering
        dts, acc, gyr, over = dt_s.tolist(), accel_g.tolist(), gyro_dps.tolist(), gyro_overrange.tolist()
        gaps = is_gap.tolist() if is_gap is not None else [False] * m
        rad = math.pi / 180.0
        for i in range(m):
            dt = dts[i]
            wx, wy, wz = gyr[i]
            wx, wy, wz = wx * rad - bx, wy * rad - by, wz * rad - bz
            w = math.sqrt(wx * wx + wy * wy + wz * wz)
            if w > 1e-9:
                # a world-fixed vector seen from the body turns by -w*dt (Rodrigues)
                th = -w * dt
                kx, ky, kz = wx / w, wy / w, wz / w
                c, sn = math.cos(th), math.sin(th)
                kv = kx * vx + ky * vy + kz * vz
                cx, cy, cz = ky * vz - kz * vy, kz * vx - kx * vz, kx * vy - ky * vx
                vx, vy, vz = (vx * c + cx * sn + kx * kv * (1 - c), vy * c + cy * sn + ky * kv * (1 - c),
                              vz * c + cz * sn + kz * kv * (1 - c))
            if over[i]:
                recovering = True
            if gaps[i]:
                recovering, speed = True, 0.0
            ax, ay, az = acc[i]
            ks = min(1.0, dt / smooth_s)
            sx, sy, sz = sx + ks * (ax - sx), sy + ks * (ay - sy), sz + ks * (az - sz)
            amag = math.sqrt(ax * ax + ay * ay + az * az)
            smag = math.sqrt(sx * sx + sy * sy + sz * sz)
            if abs(smag - base) < rej_g and smag > 1e-6:
                ux, uy, uz = sx / smag, sy / smag, sz / smag
                cos_err = ux * vx + uy * vy + uz * vz
                k = 0.0
                if recovering:
                    k = min(1.0, rec_gain * dt)
                    if cos_err > cos_recovered:
                        recovering = False
                elif cos_err > cos_reject:
                    k = gain * dt
                    rejected = 0.0
                    # Mahony integral term: a steady disagreement is gyro bias; learn it (u x v is the
                    # rotation that would close the gap, as a rate it is what the gyro failed to report)
                    ex, ey, ez = uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx
                    bx = min(max_bias, max(-max_bias, bx - ki * ex * dt))
                    by = min(max_bias, max(-max_bias, by - ki * ey * dt))
                    bz = min(max_bias, max(-max_bias, bz - ki * ez * dt))
                else:
                    rejected += dt
                    if rejected > recovery_s:
                        recovering, rejected = True, 0.0
                if k > 0.0:
                    vx, vy, vz = vx + k * (ux - vx), vy + k * (uy - vy), vz + k * (uz - vz)
            n = math.sqrt(vx * vx + vy * vy + vz * vz)
            vx, vy, vz = vx / n, vy / n, vz / n
            along = ax * vx + ay * vy + az * vz
            vert = along - base
            if abs(vert) < 0.25:
                base += (along - base) * min(1.0, dt / 4.0)
            speed += vert * STANDARD_GRAVITY_M_S2 * dt - speed * min(1.0, dt / leak_s)
            out_up[i, 0], out_up[i, 1], out_up[i, 2] = vx, vy, vz
            out_vert[i] = vert
            out_speed[i] = speed
            out_rec[i] = recovering
        self._up = [vx, vy, vz]
        self._bias_rad_s = [bx, by, bz]
        self._smooth = [sx, sy, sz]
        self._gravity_g, self._speed_m_s, self._rejected_s, self._recovering = base, speed, rejected, recovering
        return _posture(out_up, out_vert, out_speed, out_rec)


def _posture(up: np.ndarray, vert: np.ndarray, speed: np.ndarray, rec: np.ndarray) -> Posture:
    z = np.clip(up[:, 2], -1.0, 1.0)
    return Posture(
        up=up,
        tilt_deg=np.degrees(np.arccos(z)),
        lean_back_deg=np.degrees(np.arctan2(up[:, 0], up[:, 2])),
        lean_left_deg=np.degrees(np.arctan2(-up[:, 1], up[:, 2])),
        vertical_accel_g=vert,
        vertical_speed_m_s=speed,
        is_recovering=rec,
    )
