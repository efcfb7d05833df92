"""Plain data the HAL hands upwards. The driver produces these, so they live below the firmware."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SampleBlock:
    """A run of consecutive IMU samples, as drained from the chip's FIFO (or read from a recording).

    Attributes
    ----------
    t_s : ndarray, shape (n,)
        Monotonic seconds of each sample, reconstructed from the output data rate (never from when
        Python happened to read).
    accel_g : ndarray, shape (n, 3)
        Acceleration in g, gravity included, in the sensor's axes after ``axes_map``.
    gyro_dps : ndarray, shape (n, 3)
        Angular rate in degrees per second, same axes.
    temp_c : float
        Chip temperature in °C (NaN when unknown, e.g. from a recording).
    lost_samples : int
        Samples lost *before* this block (FIFO overflow or a bus fault): a gap, never misaligned data.
    """

    t_s: np.ndarray
    accel_g: np.ndarray
    gyro_dps: np.ndarray
    temp_c: float = float("nan")
    lost_samples: int = 0

    def __post_init__(self) -> None:
        n = len(self.t_s)
        if self.accel_g.shape != (n, 3) or self.gyro_dps.shape != (n, 3):
            raise ValueError(
                f"SampleBlock arrays disagree: t_s has {n} samples, accel_g {self.accel_g.shape}, "
                f"gyro_dps {self.gyro_dps.shape}; both must be ({n}, 3)"
            )

    def __len__(self) -> int:
        return len(self.t_s)

    @classmethod
    def empty(cls, temp_c: float = float("nan"), lost_samples: int = 0) -> "SampleBlock":
        return cls(np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3)), temp_c, lost_samples)

    def slice(self, start: int, stop: int) -> "SampleBlock":
        """Samples [start, stop) as a block; the lost-sample gap stays with the first slice only."""
        return SampleBlock(
            self.t_s[start:stop], self.accel_g[start:stop], self.gyro_dps[start:stop],
            self.temp_c, self.lost_samples if start == 0 else 0,
        )
