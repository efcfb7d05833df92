"""What the emulated MPU-6050 feels: motion sources (arrays at any rate, resampled) and sensor noise."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Tuple

import numpy as np

__all__ = ["MotionSource", "ArrayMotion", "SensorNoise", "still"]


class MotionSource(Protocol):
    """What the chip feels: accel (g, gravity included) and gyro (°/s) in the chip's axes."""

    def sample(self, t_s: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(accel_g (n, 3), gyro_dps (n, 3)) at ``t_s`` (n,), seconds since the chip was created."""
        ...


class ArrayMotion:
    """Motion from arrays at any rate (a recording, a synthetic scenario), linearly interpolated.

    Parameters
    ----------
    t_s : array (m,)
        Strictly increasing times; the first one plays at chip time 0.
    accel_g, gyro_dps : arrays (m, 3)
        Chip-frame acceleration in g and angular rate in °/s.
    loop : bool
        After the end, start again (period = span + one median step, so the seam is one ordinary step);
        otherwise hold the last value.
    """

    def __init__(self, t_s: Any, accel_g: Any, gyro_dps: Any, loop: bool = False) -> None:
        t = np.asarray(t_s, dtype=float).reshape(-1)
        a = np.asarray(accel_g, dtype=float)
        g = np.asarray(gyro_dps, dtype=float)
        if len(t) == 0 or a.shape != (len(t), 3) or g.shape != (len(t), 3):
            raise ValueError(f"ArrayMotion needs t_s (m,) with m >= 1 and accel_g, gyro_dps (m, 3); got t_s "
                             f"{t.shape}, accel_g {a.shape}, gyro_dps {g.shape}")
        if len(t) > 1 and not np.all(np.diff(t) > 0):
            raise ValueError("ArrayMotion t_s must be strictly increasing")
        self._t_s = t - t[0]
        self._data = np.hstack([a, g])
        self.loop = bool(loop)
        step_s = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
        self.period_s = float(self._t_s[-1] + step_s)
        # Looping: between the last sample and the period's end, interpolate towards the first one. Built once
        # here, not per call: copying the whole recording on every FIFO read flushed the CPU caches, and the
        # daemon's next lines paid for it in the bench's figure, where the emulator's cost is meant to be apart.
        self._loop_t_s = np.append(self._t_s, self.period_s)
        self._loop_data = np.vstack([self._data, self._data[:1]])

    def sample(self, t_s: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        tq = np.asarray(t_s, dtype=float)
        if len(self._t_s) == 1:
            out = np.repeat(self._data, len(tq), axis=0)
            return out[:, :3], out[:, 3:]
        if self.loop:
            tq = np.mod(tq, self.period_s)
            t, data = self._loop_t_s, self._loop_data
        else:
            t, data = self._t_s, self._data
        i = np.clip(np.searchsorted(t, tq, side="right") - 1, 0, len(t) - 2)
        w = np.clip((tq - t[i]) / (t[i + 1] - t[i]), 0.0, 1.0)[:, None]
        out = data[i] + w * (data[i + 1] - data[i])
        return out[:, :3], out[:, 3:]


def still() -> ArrayMotion:
    """Lying still, z up: accel (0, 0, 1) g, no rotation."""
    return ArrayMotion([0.0], [[0.0, 0.0, 1.0]], [[0.0, 0.0, 0.0]])


@dataclass(frozen=True)
class SensorNoise:
    """White noise added before quantisation; defaults from the product spec (PS §6.1/6.2: 400 µg/√Hz and
    0.005 °/s/√Hz over the ~44 Hz DLPF bandwidth, rounded), seeded so runs repeat."""

    accel_g_rms: float = 0.004
    gyro_dps_rms: float = 0.05
    seed: int = 0
