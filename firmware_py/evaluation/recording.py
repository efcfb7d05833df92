"""A recording as evaluation sees it: one trial's samples in the sensor's axes, its mounting when known, what
kind of trial it was; and how such a trace is cut into the blocks the daemon would read.

The loaders (``datasets`` for the project's CSV, ``sisfall`` for the SisFall text files) and the synthetic
traces (``scenarios``) all end here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional

import numpy as np

from hal.types import SampleBlock

KINDS = ("fall", "stumble", "walk", "other")


def sample_blocks(t_s: np.ndarray, accel_g: np.ndarray, gyro_dps: np.ndarray,
                  block_s: float = 0.1) -> Iterator[SampleBlock]:
    """Consecutive ``SampleBlock``s of about ``block_s`` seconds, every sample in exactly one: the one way a
    trace (a recording, a synthetic scenario) is cut for the pipeline, as the daemon drains the FIFO."""
    if block_s <= 0:
        raise ValueError(f"block_s = {block_s} is not allowed; use a positive number of seconds")
    n = len(t_s)
    if n == 0:
        return
    # block edges by time, so a jittering or irregular rate still gives ~block_s per block
    count = int(np.ceil((t_s[-1] - t_s[0]) / block_s)) + 1
    # a microsecond of slack so float rounding of k * block_s does not move a sample across an edge
    edges = np.searchsorted(t_s, t_s[0] + np.arange(1, count + 1) * block_s - 1e-6, side="left")
    edges = np.unique(np.r_[edges, n])
    start = 0
    for stop in edges:
        if stop > start:
            yield SampleBlock(t_s[start:stop], accel_g[start:stop], gyro_dps[start:stop])
            start = int(stop)


@dataclass(frozen=True, eq=False)
class Recording:
    """One trial: samples in the sensor's axes, what kind of trial it is, and where it came from.

    Attributes
    ----------
    name : str
        Trial name, e.g. ``F02_SA01_R01`` or the CSV file's stem.
    t_s : ndarray, shape (n,)
        Seconds since the start of the recording.
    accel_g, gyro_dps : ndarray, shape (n, 3)
        Acceleration in g (gravity included) and angular rate in °/s, in the sensor's axes.
    body_from_sensor : ndarray, shape (3, 3), or None
        Rotation taking sensor-axis vectors to the body frame (x anterior, y left, z up);
        None when unknown (the pipeline then learns it while the wearer stands).
    kind : str
        ``fall``, ``stumble``, ``walk`` or ``other``.
    activity : str
        SisFall activity code (``F02``), or for CSV the leading word of the file name (``fall``).
    impact_index : int or None
        Sample of the impact in a fall trial (peak |a|), None for other trials.
    source_path : str
        File it was read from ("" for data made in memory).
    synthetic : bool
        True for generated traces (``firmware_py.evaluation.scenarios``), never for recordings of people.
    """

    name: str
    t_s: np.ndarray
    accel_g: np.ndarray
    gyro_dps: np.ndarray
    body_from_sensor: Optional[np.ndarray]
    kind: str
    activity: str
    impact_index: Optional[int]
    source_path: str = ""
    synthetic: bool = False

    def __post_init__(self) -> None:
        n = len(self.t_s)
        if self.accel_g.shape != (n, 3) or self.gyro_dps.shape != (n, 3):
            raise ValueError(f"recording {self.name}: t_s has {n} samples but accel_g is {self.accel_g.shape} "
                             f"and gyro_dps {self.gyro_dps.shape}; both must be ({n}, 3)")
        if self.kind not in KINDS:
            raise ValueError(f"recording {self.name}: kind = {self.kind!r} is not allowed; use one of "
                             f"{', '.join(KINDS)}")

    def __len__(self) -> int:
        return len(self.t_s)

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1] - self.t_s[0]) if len(self.t_s) > 1 else 0.0

    @property
    def impact_t_s(self) -> Optional[float]:
        return None if self.impact_index is None else float(self.t_s[self.impact_index])

    def blocks(self, block_s: float = 0.1) -> Iterator[SampleBlock]:
        """The recording as consecutive ``SampleBlock``s of about ``block_s`` seconds, as the daemon reads them."""
        return sample_blocks(self.t_s, self.accel_g, self.gyro_dps, block_s)


def peak_index(accel_g: np.ndarray, start: int = 0, stop: Optional[int] = None) -> int:
    """Index of the sample with the largest |a| in ``accel_g[start:stop]`` (the impact of a fall)."""
    seg = accel_g[start:stop]
    return start + int(np.argmax(np.einsum("ij,ij->i", seg, seg)))
