"""What ``retrowalk evaluate`` can do to a recording before the pipeline sees it: check a device's figures
the way a stranger's device would be worn, sampled or moved.

* ``no_mounting`` -- forget the recording's ``body_from_sensor``: an uncalibrated wearer;
* ``rotate`` -- turn the sensor on the body by a rotation (a matrix, or a random one per trial, seeded
  by the trial's name so a run is repeatable); the known mounting turns with it, so a calibrated run
  must give the same figures;
* ``resample_hz`` -- resample to another rate (linear interpolation of every channel), e.g. 20 Hz for a
  BLE tag or 1000 Hz for a fast IMU;
* ``time_reverse`` -- play the recording backwards in time: acceleration keeps its sign, angular rate
  changes sign. Backward walking is kinematically close to forward walking reversed in time
  (Thorstensson 1986; Grasso, Bianchi & Lacquaniti 1998), so reversed walks stand in for backward walks,
  which no public dataset has.

The impact of a fall moves with the samples (reversed: it is then the same sample, now later in time).
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from typing import Optional, Sequence

import numpy as np

from .datasets import Recording


def random_rotation(seed: int) -> np.ndarray:
    """A rotation drawn uniformly (a unit quaternion from a seeded normal draw)."""
    q = np.random.default_rng(seed).normal(size=4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def parse_rotation(text: str) -> Optional[np.ndarray]:
    """``random`` (None: one per trial) or a 3x3 rotation as JSON, e.g. ``[[0,0,1],[0,1,0],[-1,0,0]]``.

    Raises ValueError naming what was wrong."""
    if text == "random":
        return None
    import json
    try:
        m = np.array(json.loads(text), dtype=float)
    except ValueError:
        m = np.zeros(0)
    if m.shape != (3, 3):
        raise ValueError(f"--rotate {text!r}: use 'random' or a 3x3 matrix like [[0,0,1],[0,1,0],[-1,0,0]]")
    if not np.allclose(m @ m.T, np.eye(3), atol=1e-3) or abs(np.linalg.det(m) - 1) > 1e-3:
        raise ValueError(f"--rotate {text!r} is not a rotation; use an orthonormal matrix with determinant +1")
    return m


@dataclass(frozen=True)
class Transform:
    """What to do to each recording (see the module docstring); the default changes nothing."""

    no_mounting: bool = False
    rotate: bool = False
    rotation: Optional[Sequence[Sequence[float]]] = None    # None with ``rotate``: random per trial
    resample_hz: Optional[float] = None
    time_reverse: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.resample_hz is not None and not 5.0 <= self.resample_hz <= 5000.0:
            raise ValueError(f"--resample {self.resample_hz} is not allowed; use 5 to 5000 Hz")

    @property
    def is_identity(self) -> bool:
        return self == Transform(seed=self.seed)

    def describe(self) -> str:
        parts = []
        if self.no_mounting:
            parts.append("no mounting (uncalibrated wearer)")
        if self.rotate:
            parts.append("sensor rotated " + ("at random per trial" if self.rotation is None
                                              else f"by {np.asarray(self.rotation).tolist()}"))
        if self.resample_hz:
            parts.append(f"resampled to {self.resample_hz:g} Hz")
        if self.time_reverse:
            parts.append("reversed in time")
        return ", ".join(parts) or "as recorded"

    def apply(self, rec: Recording) -> Recording:
        """The recording as the pipeline should see it."""
        if self.is_identity:
            return rec
        t, a, g, impact = rec.t_s, rec.accel_g, rec.gyro_dps, rec.impact_index
        mounting = None if rec.body_from_sensor is None else np.asarray(rec.body_from_sensor, dtype=float)
        if self.resample_hz:
            new_t = np.arange(t[0], t[-1] + 1e-9, 1.0 / self.resample_hz)
            a = np.column_stack([np.interp(new_t, t, a[:, i]) for i in range(3)])
            g = np.column_stack([np.interp(new_t, t, g[:, i]) for i in range(3)])
            if impact is not None:
                impact = int(np.argmax(np.einsum("ij,ij->i", a, a) * (np.abs(new_t - t[impact]) < 0.1)))
            t = new_t
        if self.time_reverse:
            t = t[-1] - t[::-1]
            a, g = a[::-1], -g[::-1]
            impact = None if impact is None else len(t) - 1 - impact
        if self.rotate:
            r = (np.asarray(self.rotation, dtype=float) if self.rotation is not None
                 else random_rotation(self.seed * 1_000_003 + zlib.crc32(rec.name.encode())))
            a, g = a @ r.T, g @ r.T            # the sensor turned: what it reads is rotated
            if mounting is not None:
                mounting = mounting @ r.T      # body_from_new_sensor = body_from_sensor @ sensor_from_new
        if self.no_mounting:
            mounting = None
        return replace(rec, t_s=np.ascontiguousarray(t), accel_g=np.ascontiguousarray(a),
                       gyro_dps=np.ascontiguousarray(g), body_from_sensor=mounting, impact_index=impact)
