"""Gyro bias and mounting alignment: from the sensor's axes to the wearer's body frame.

The body frame, used by every stage after this one:

* **x anterior** -- where the chest faces; walking backwards is motion along -x;
* **y left** -- towards the wearer's left hand;
* **z up** -- along the trunk, pointing to the head when standing upright (right-handed: x × y = z).

A :class:`Calibration` holds the gyroscope bias (sensor axes, °/s) and the rotation ``body_from_sensor``
(3×3, ``v_body = body_from_sensor @ v_sensor``). It comes from one of three places:

1. ``retrowalk calibrate`` on the body: :func:`calibrate_at_rest` on a still, upright recording;
2. a dataset loader that knows how its device was worn (SisFall: ``[[0,0,1],[-1,0,0],[0,-1,0]]``);
3. the pipeline when no calibration is given (``mounting.py``): gravity at once, the heading from a configured
   ``forward_axis`` or from walking. :class:`RestLearner` (the first second of standing still) tells, with a
   configured ``forward_axis``, lying at switch-on from standing.

Gravity fixes z but says nothing about where the wearer faces (the heading about the vertical). Our
convention: the sensor axis named ``forward_axis`` (``calibrate_at_rest``'s default ``"+x"``), projected onto the horizontal
plane, is the anterior direction. Mount the device with that axis pointing out of the belly (or
out of the back with ``"-x"``); the axis must not be near vertical.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from hal.errors import RetrowalkError
from hal.types import SampleBlock

from firmware_py.settings_checks import require_positive

_AXES = {"+x": (1.0, 0.0, 0.0), "-x": (-1.0, 0.0, 0.0), "+y": (0.0, 1.0, 0.0), "-y": (0.0, -1.0, 0.0),
         "+z": (0.0, 0.0, 1.0), "-z": (0.0, 0.0, -1.0)}
_IDENTITY = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


class NotStillError(RetrowalkError, ValueError):
    """The wearer moved (or the device was not worn upright) while a calibration was being taken."""


def _matrix(rows: Sequence[Sequence[float]]) -> Tuple[Tuple[float, float, float], ...]:
    m = np.asarray(rows, dtype=float)
    if m.shape != (3, 3):
        raise ValueError(f"body_from_sensor must be 3x3, got shape {m.shape}")
    if not np.allclose(m @ m.T, np.eye(3), atol=1e-3) or not abs(np.linalg.det(m) - 1.0) < 1e-3:
        raise ValueError(f"body_from_sensor = {m.tolist()} is not a rotation; use an orthonormal 3x3 matrix "
                         "with determinant +1 (a proper axis permutation or a measured rotation)")
    return tuple(tuple(float(v) for v in row) for row in m)  # type: ignore[return-value]


@dataclass(frozen=True)
class Calibration:
    """Gyro bias (sensor axes, °/s) and the sensor-to-body rotation. See the module docstring."""

    gyro_bias_dps: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    body_from_sensor: Tuple[Tuple[float, float, float], ...] = _IDENTITY

    def __post_init__(self) -> None:
        bias = tuple(float(v) for v in self.gyro_bias_dps)
        if len(bias) != 3 or not all(np.isfinite(bias)):
            raise ValueError(f"gyro_bias_dps = {self.gyro_bias_dps!r} is not allowed; use three finite °/s values")
        object.__setattr__(self, "gyro_bias_dps", bias)
        object.__setattr__(self, "body_from_sensor", _matrix(self.body_from_sensor))

    @property
    def rotation(self) -> np.ndarray:
        """``body_from_sensor`` as a (3, 3) array."""
        return np.asarray(self.body_from_sensor)

    def to_body(self, accel_g: np.ndarray, gyro_dps: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Rotate (n, 3) sensor-axis arrays into the body frame, removing the gyro bias first.

        The one place the sensor-to-body rotation is applied: the pipeline calls it on every block."""
        rotation_t, bias = self._to_body
        return accel_g @ rotation_t, (gyro_dps - bias) @ rotation_t

    @cached_property
    def _to_body(self) -> Tuple[np.ndarray, np.ndarray]:
        # built once per calibration (to_body runs on every block); the transpose is copied so that the
        # product is taken on a contiguous array, the same arithmetic whatever numpy does with strides
        return self.rotation.T.copy(), np.asarray(self.gyro_bias_dps)

    def to_dict(self) -> Dict[str, Any]:
        return {"gyro_bias_dps": list(self.gyro_bias_dps),
                "body_from_sensor": [list(row) for row in self.body_from_sensor]}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "Calibration":
        try:
            return cls(gyro_bias_dps=tuple(d["gyro_bias_dps"]), body_from_sensor=d["body_from_sensor"])
        except KeyError as exc:
            raise ValueError(f"calibration is missing {exc.args[0]!r}; it needs gyro_bias_dps and "
                             "body_from_sensor (run `retrowalk calibrate` again)") from None


def rotation_from_gravity(up_sensor: Sequence[float], forward_axis: str = "+x") -> np.ndarray:
    """The rotation whose body z is ``up_sensor`` and whose body x is ``forward_axis`` made horizontal.

    Raises ValueError when ``forward_axis`` is unknown or within 30° of vertical (no heading from it).
    """
    if forward_axis not in _AXES:
        raise ValueError(f"forward_axis = {forward_axis!r} is not allowed; use one of {', '.join(_AXES)}")
    up = np.asarray(up_sensor, dtype=float)
    up = up / np.linalg.norm(up)
    fwd = np.asarray(_AXES[forward_axis])
    horizontal = fwd - up * float(fwd @ up)
    if np.linalg.norm(horizontal) < 0.5:     # within 30° of vertical
        raise ValueError(f"forward_axis = {forward_axis!r} points nearly vertical as worn (gravity is along "
                         f"{np.round(up, 2).tolist()} in sensor axes); name the sensor axis that points out "
                         "of the belly or back, e.g. '+x' or '-z'")
    x = horizontal / np.linalg.norm(horizontal)
    y = np.cross(up, x)
    return np.vstack((x, y, up))


def calibrate_at_rest(block: SampleBlock, forward_axis: str = "+x", max_accel_spread_g: float = 0.05,
                      max_gyro_spread_dps: float = 3.0, min_duration_s: float = 0.5) -> Calibration:
    """Gyro bias and mounting from a recording of the wearer standing still and upright.

    Parameters
    ----------
    block : SampleBlock
        At least ``min_duration_s`` of samples, sensor axes.
    forward_axis : str
        The sensor axis that points (roughly) anterior, e.g. ``"+x"``; see the module docstring.

    Raises
    ------
    NotStillError
        When the recording is too short, |a| is not about 1 g, or accel/gyro moved more than allowed.
    """
    t = np.asarray(block.t_s, dtype=float)
    if len(t) < 2 or t[-1] - t[0] < min_duration_s:
        raise NotStillError(f"calibration needs at least {min_duration_s} s of samples at rest, got "
                            f"{0.0 if len(t) < 2 else t[-1] - t[0]:.2f} s; stand still a little longer")
    a = np.asarray(block.accel_g, dtype=float)
    g = np.asarray(block.gyro_dps, dtype=float)
    a_mag = np.linalg.norm(a, axis=1)
    spread_a = float(np.percentile(a_mag, 99) - np.percentile(a_mag, 1))
    spread_g = float(np.max(np.percentile(g, 99, axis=0) - np.percentile(g, 1, axis=0)))
    mean_a = float(np.mean(a_mag))
    if spread_a > max_accel_spread_g or spread_g > max_gyro_spread_dps or not 0.8 < mean_a < 1.2:
        raise NotStillError(f"the wearer was not still during calibration (|a| spread {spread_a:.3f} g, allowed "
                            f"{max_accel_spread_g}; gyro spread {spread_g:.1f} °/s, allowed {max_gyro_spread_dps}; "
                            f"mean |a| {mean_a:.2f} g, expected about 1); stand upright and still, then retry")
    rotation = rotation_from_gravity(a.mean(axis=0), forward_axis)
    return Calibration(gyro_bias_dps=tuple(g.mean(axis=0)), body_from_sensor=rotation)


@dataclass(frozen=True)
class CalibrationSettings:
    """How the pipeline learns the mounting when it was given no calibration.

    Attributes
    ----------
    forward_axis : sensor axis taken as anterior when no calibration was made (heading convention, see the
        module docstring); empty: learn the heading from walking (``heading.py``) and run direction-free
        until then (mounting "gravity only")
    still_s : how long the wearer must stand still before gravity and gyro bias are learned
    still_accel_spread_g : largest |a| spread within a frame that still counts as still
    still_gyro_change_dps : largest change of the mean angular rate between frames that counts as still
    """

    forward_axis: str = ""
    still_s: float = 1.0
    still_accel_spread_g: float = 0.05
    still_gyro_change_dps: float = 2.0

    def __post_init__(self) -> None:
        if self.forward_axis and self.forward_axis not in _AXES:
            raise ValueError(f"forward_axis = {self.forward_axis!r} is not allowed; use one of {', '.join(_AXES)}, "
                             "or \"\" to learn the heading from walking")
        require_positive(self, "still_s", "still_accel_spread_g", "still_gyro_change_dps")


#: a still period counts as standing only with the forward axis within this of horizontal (lying on the back
#: or front tips it towards vertical) ...
UPRIGHT_MAX_FORWARD_ELEVATION_DEG = 45.0
#: ... and as lying (for the long lie before the mounting is known) only beyond this (not a reclined armchair)
LYING_MIN_FORWARD_ELEVATION_DEG = 70.0


def forward_elevation_deg(up_sensor: np.ndarray, forward_axis: str) -> float:
    """How far the configured forward axis points above or below the horizontal, in degrees."""
    up = np.asarray(up_sensor, dtype=float)
    return float(np.degrees(np.arcsin(min(1.0, abs(float(np.asarray(_AXES[forward_axis]) @ up))
                                              / max(float(np.linalg.norm(up)), 1e-9)))))


class RestLearner:
    """Learns a :class:`Calibration` from the first ``still_s`` of stillness in the stream.

    Assumes that the first still period with the forward axis near horizontal is the wearer standing
    upright (true when the device is switched on while worn and the wearer stands for a second). A still
    period with the forward axis steep is lying on the back or front and is never learned as upright
    (``lying_s`` says how long the wearer has been lying so). Until then the pipeline has no body
    frame and raises nothing; ``retrowalk calibrate`` avoids the wait.
    """

    def __init__(self, settings: CalibrationSettings) -> None:
        self._settings = settings
        self._run_frames = 0
        self._run_time_s = 0.0
        self._sum_a = np.zeros(3)
        self._sum_g = np.zeros(3)
        self._prev_g = np.full(3, np.nan)
        #: how long the forward axis has pointed far from horizontal (lying on the back or front), else 0
        self.lying_s = 0.0

    def learn(self, t_s: np.ndarray, dt_s: np.ndarray, accel_g: np.ndarray, gyro_dps: np.ndarray,
              accel_spread_g: np.ndarray) -> Tuple[Optional[Calibration], int]:
        """Feed frame summaries (sensor axes). Returns (calibration, index of the first frame it applies
        to) once learned, else (None, len)."""
        s = self._settings
        prev = np.vstack((self._prev_g[None, :], gyro_dps[:-1]))
        a_mag = np.linalg.norm(accel_g, axis=1)
        still = ((accel_spread_g < s.still_accel_spread_g) & (np.abs(a_mag - 1.0) < 0.2)
                 & (np.abs(gyro_dps - prev).max(axis=1) < s.still_gyro_change_dps))
        self._prev_g = gyro_dps[-1].copy()
        axis = s.forward_axis or "+x"      # none configured: the documented mounting (+x out of the belly)
        fwd = np.asarray(_AXES[axis])
        steep = np.abs(accel_g @ fwd) > np.sin(np.radians(LYING_MIN_FORWARD_ELEVATION_DEG)) * a_mag
        for i in range(len(t_s)):
            # lying: the posture, whatever small movements
            self.lying_s = self.lying_s + float(dt_s[i]) if steep[i] and abs(a_mag[i] - 1.0) < 0.3 else 0.0
            if not still[i]:
                self._run_frames, self._run_time_s = 0, 0.0
                self._sum_a[:] = 0.0
                self._sum_g[:] = 0.0
                continue
            self._run_frames += 1
            self._run_time_s += float(dt_s[i])
            self._sum_a += accel_g[i]
            self._sum_g += gyro_dps[i]
            if self._run_time_s >= s.still_s:
                up = self._sum_a / self._run_frames
                if forward_elevation_deg(up, axis) > UPRIGHT_MAX_FORWARD_ELEVATION_DEG:
                    # lying on the back or front (or forward_axis names the wrong axis): never learn that as
                    # upright; the pipeline counts it as lying (long lie) until the wearer stands
                    continue
                rotation = rotation_from_gravity(up, axis)
                return Calibration(tuple(self._sum_g / self._run_frames), rotation), i + 1
        return None, len(t_s)
