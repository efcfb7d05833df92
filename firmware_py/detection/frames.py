"""Cut the sample stream into short fixed-size frames and summarise each frame with numpy.

Every later stage (orientation, gait, detectors) runs once per frame (about 50 ms), not once per sample.
Frames are counted from the first sample of the stream, never from the block boundaries, so the
pipeline sees exactly the same frames -- and raises exactly the same events -- whether the samples
arrive one at a time, in 0.1 s FIFO drains or as a whole recording.

Per-frame summaries are either linear in the samples (means: they can be rotated into the body frame
afterwards) or rotation-invariant (magnitudes), so framing can happen before the mounting is known.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from hal.types import SampleBlock

#: samples whose intervals tell a regular stream's rate (a sensor's FIFO): the first frame is cut at once
REGULAR_PROBE_SAMPLES = 9
#: an irregular stream's rate is read over this many samples (2 s at 20 Hz); they are kept, so its first
#: frames are only late, never lost
RATE_PROBE_SAMPLES = 41
#: ... from spans of this many sample intervals: a device that sends its samples in uneven pairs (UMAFall's
#: tag: 5 ms then 90 ms) has a steady mean interval over a few samples, but no typical one
RATE_SPAN_INTERVALS = 4


def sample_interval_s(t_s: np.ndarray) -> Optional[float]:
    """The stream's sample interval from its first samples, or None while they are too few to tell.

    Regular first intervals (within a factor 1.5 of each other) give their median at once. Irregular ones
    wait for :data:`RATE_PROBE_SAMPLES` and give the median of the mean interval of
    :data:`RATE_SPAN_INTERVALS` consecutive ones: a burst of buffered samples at switch-on (UMAFall's tag
    sends up to 17 within 0.1 s before settling at 20 Hz) or an early gap is outvoted. The median of the
    first 8 intervals alone read such a burst as 40-240 Hz and made 0.1-0.6 s frames."""
    t = np.asarray(t_s, dtype=float)
    if len(t) < REGULAR_PROBE_SAMPLES:
        return None
    first = np.diff(t[:REGULAR_PROBE_SAMPLES])
    if first.max() <= 1.5 * first.min():
        return float(np.median(first))
    if len(t) < RATE_PROBE_SAMPLES:
        return None
    t = t[:RATE_PROBE_SAMPLES]
    k = RATE_SPAN_INTERVALS
    return float(np.median((t[k:] - t[:-k]) / k))


@dataclass(frozen=True)
class Frames:
    """Summaries of consecutive frames, each array with one row per frame (m rows).

    Attributes
    ----------
    t_s : (m,) time of the frame's last sample
    dt_s : (m,) time since the previous frame's last sample (the nominal frame length after a gap)
    accel_g, gyro_dps : (m, 3) mean acceleration (gravity included) and angular rate, sensor axes
    accel_peak_g, accel_low_g : (m,) largest and smallest |a| of one sample in the frame
    t_peak_s : (m,) time of the sample with the largest |a|
    gyro_overrange : (m,) a sample reached the gyroscope's range: integrated rotation is unreliable
    accel_spread_g : (m,) largest minus smallest |a| in the frame (stillness)
    is_gap : (m,) samples were lost or time jumped just before this frame
    """

    t_s: np.ndarray
    dt_s: np.ndarray
    accel_g: np.ndarray
    gyro_dps: np.ndarray
    accel_peak_g: np.ndarray
    accel_low_g: np.ndarray
    t_peak_s: np.ndarray
    gyro_overrange: np.ndarray
    accel_spread_g: np.ndarray
    is_gap: np.ndarray

    def __len__(self) -> int:
        return len(self.t_s)


class Framer:
    """Buffers samples and emits complete frames of ``frame_samples`` samples.

    Parameters
    ----------
    frame_s : float
        Wanted frame length; the frame holds ``max(1, round(frame_s * rate_hz))`` samples, the rate being
        read from the stream's first samples by :func:`sample_interval_s` (so 20 Hz to 1 kHz all work).
    gyro_range_dps : float
        Full scale the gyroscope is set to (``[sensor] gyro_range_dps``); samples within 2 % of it count as
        overrange.
    """

    def __init__(self, frame_s: float, gyro_range_dps: float) -> None:
        self._frame_s = frame_s
        self._overrange_dps = 0.98 * gyro_range_dps
        self._t = np.zeros(0)
        self._a = np.zeros((0, 3))
        self._g = np.zeros((0, 3))
        self.frame_samples = 0          # 0 until the rate is known
        self.sample_dt_s = 0.0
        self._prev_t_s = np.nan          # last sample of the previous frame
        self._gap_pending = False

    @property
    def frame_dt_s(self) -> float:
        return self.frame_samples * self.sample_dt_s

    def samples_until_frame(self) -> int | None:
        """Samples the next frame still needs; None until the rate is known."""
        return self.frame_samples - len(self._t) if self.frame_samples else None

    def push(self, block: SampleBlock) -> Frames | None:
        """Add a block; return the frames it completed (None when none)."""
        if block.lost_samples > 0:
            # Samples are missing: a frame must not straddle the hole, so the partial frame is dropped.
            self._t, self._a, self._g = self._t[:0], self._a[:0], self._g[:0]
            self._gap_pending = True
        if len(block) == 0:
            return None
        if len(self._t):
            t = np.concatenate((self._t, np.asarray(block.t_s, dtype=float)))
            a = np.concatenate((self._a, np.asarray(block.accel_g, dtype=float)))
            g = np.concatenate((self._g, np.asarray(block.gyro_dps, dtype=float)))
        else:
            t = np.asarray(block.t_s, dtype=float)
            a = np.asarray(block.accel_g, dtype=float)
            g = np.asarray(block.gyro_dps, dtype=float)
        if self.frame_samples == 0:
            dt = sample_interval_s(t)
            if dt is None:
                self._t, self._a, self._g = t, a, g
                return None
            if not dt > 0:
                raise ValueError(f"sample times must increase; the first samples are {t[:RATE_PROBE_SAMPLES]}")
            self.sample_dt_s = dt
            self.frame_samples = max(1, int(round(self._frame_s / dt)))
        n = self.frame_samples
        m = len(t) // n
        used = m * n
        self._t, self._a, self._g = t[used:], a[used:], g[used:]
        if m == 0:
            return None
        return self._summarise(t[:used], a[:used], g[:used], m, n)

    def _summarise(self, t: np.ndarray, a: np.ndarray, g: np.ndarray, m: int, n: int) -> Frames:
        # As few numpy calls as possible: in the daemon this runs on one frame (10 samples) per wake, and
        # after the CPU slept every distinct numpy call costs several times its warm time (bench/daemon.py).
        a3 = a.reshape(m, n, 3)
        g3 = g.reshape(m, n, 3)
        squared = np.einsum("ijk,ijk->ij", a3, a3)
        i_peak = squared.argmax(axis=1)
        rows = np.arange(m)
        # the square root is monotonic, so the roots of the extreme squares are the extreme magnitudes
        peak = np.sqrt(squared[rows, i_peak])
        low = np.sqrt(squared.min(axis=1))
        t_f = t.reshape(m, n)
        t_end = t_f[:, -1]
        dt = t_end - np.concatenate(((self._prev_t_s,), t_end[:-1]))
        nominal = self.frame_dt_s
        is_gap = ~(dt < 2.5 * nominal)          # NaN (first frame) counts as a gap
        if self._gap_pending:
            is_gap[0] = True
            self._gap_pending = False
        dt[is_gap] = nominal
        self._prev_t_s = float(t[-1])
        scale = 1.0 / n
        return Frames(
            t_s=t_end,
            dt_s=dt,
            accel_g=a3.sum(axis=1) * scale,
            gyro_dps=g3.sum(axis=1) * scale,
            accel_peak_g=peak,
            accel_low_g=low,
            t_peak_s=t_f[rows, i_peak],
            gyro_overrange=np.einsum("ijk,ijk->ij", g3, g3).max(axis=1) >= self._overrange_dps ** 2,
            accel_spread_g=peak - low,
            is_gap=is_gap,
        )
