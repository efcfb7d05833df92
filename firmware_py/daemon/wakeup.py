"""When the main loop next has work, so it sleeps until then instead of waking on a fixed beat.

The sensor side: the pipeline works in frames (``[detection] frame_s``, 50 ms), and only a frame's last sample
can complete an event. So the FIFO is read just after the sample that completes the next frame has landed
in it: an event then waits about ``MARGIN_S`` for the read, not up to a whole poll interval, and a wake never
finds half a frame to do nothing with. While the wearer rests (the last ``REST_AFTER_S`` of samples still,
no alarm sounding) several frames are read at once, every ``[daemon] resting_poll_s``; the first block that
moves brings back one read per frame. Never more than half the FIFO (85 frames of 12 bytes: 0.425 s at 200
Hz) is left to fill between reads, so a late wake on a busy CPU still loses nothing.

The trade-off, measured by ``bench/daemon.py`` and ``tests/firmware/test_wakeup.py``: a fall that begins
from rest is seen up to ``resting_poll_s`` late only if the frame that completes its event lies in the first
slow read after the first movement; the pre-impact detector needs several frames of a fall, so this is rare,
and ``resting_poll_s = 0`` turns resting reads off.

Everything else that is due (a buzzer edge, the cancel window's end, telemetry, a sensor retry) is passed to
:meth:`WakeSchedule.next_wake_s` by the loop.
"""
from __future__ import annotations

import math
from typing import Iterable, Optional

import numpy as np

from hal.mpu6050_registers import FIFO_CAPACITY_BYTES, FIFO_FRAME_BYTES
from hal.types import SampleBlock

from .settings import DaemonSettings

#: after the predicted landing of the frame's last sample: the read's own time and timer lateness are on
#: the safe side, this covers the chip's oscillator (±1 % over a frame is 0.5 ms) and clock rounding
MARGIN_S = 0.0015
#: how long the samples must have been still before reads slow down
REST_AFTER_S = 2.0
#: a block is still when |a| varies less than this ...
STILL_ACCEL_SPREAD_G = 0.05
#: ... and no gyro axis varies more than this (spreads, so the gyro's bias does not matter)
STILL_GYRO_SPREAD_DPS = 5.0
#: the share of the FIFO allowed to fill between two reads
FIFO_FILL_LIMIT = 0.5


def is_still(block: SampleBlock) -> bool:
    """The wearer did not move during ``block`` (standing, sitting or lying still)."""
    if len(block) < 2:
        return False
    # Run on every FIFO read, so few numpy calls: the square root is monotonic, so the spread of |a| is the
    # difference of the roots of the extreme squares (the same figure as rooting all n first); the gyro is
    # only looked at when the accelerometer was still (while walking it never is).
    accel = np.asarray(block.accel_g)
    squared = np.einsum("ij,ij->i", accel, accel)
    if not math.sqrt(squared.max()) - math.sqrt(squared.min()) < STILL_ACCEL_SPREAD_G:
        return False
    gyro = np.asarray(block.gyro_dps)
    return float((gyro.max(axis=0) - gyro.min(axis=0)).max()) < STILL_GYRO_SPREAD_DPS


class WakeSchedule:
    """When the FIFO should next be read (see the module docstring).

    Parameters
    ----------
    settings : DaemonSettings
        ``poll_interval_s`` (reads while the frames are not known yet: start-up, after a sensor fault) and
        ``resting_poll_s``.
    sample_rate_hz : float
        The chip's output rate: sets the sample period and how long the FIFO takes to fill.

    Attributes
    ----------
    is_resting : bool
        Reads are several frames apart now.
    reads : int
        FIFO reads scheduled so far (for the bench and tests).
    """

    def __init__(self, settings: DaemonSettings, sample_rate_hz: float) -> None:
        self._settings = settings
        self._period_s = 1.0 / float(sample_rate_hz)
        fifo_samples = FIFO_CAPACITY_BYTES // FIFO_FRAME_BYTES
        self._max_samples = max(1, int(fifo_samples * FIFO_FILL_LIMIT))
        self._still_since_s: Optional[float] = None
        self.sensor_due_s = -math.inf
        self.is_resting = False
        self.reads = 0

    @property
    def fifo_safe_s(self) -> float:
        """The longest wait between reads that leaves the FIFO at most half full."""
        return self._max_samples * self._period_s

    def after_read(self, read_s: float, block: Optional[SampleBlock], samples_until_frame: Optional[int],
                   frame_samples: int, busy: bool = False) -> float:
        """Plan the next read after one at ``read_s`` returned ``block``; returns the time it is due.

        ``samples_until_frame`` and ``frame_samples`` come from the pipeline (``None``/0 while it does not
        know the rate yet); ``busy`` (an alarm sounding, a calibration running) keeps one read per frame.
        """
        self.reads += 1
        if block is not None and len(block):
            if not is_still(block):
                self._still_since_s = None
            elif self._still_since_s is None:
                self._still_since_s = read_s
        self.is_resting = (not busy and self._settings.resting_poll_s > 0 and self._still_since_s is not None
                           and read_s - self._still_since_s >= REST_AFTER_S)
        if not samples_until_frame or not frame_samples:
            wait_s = min(self._settings.poll_interval_s, self.fifo_safe_s)
        else:
            samples = samples_until_frame
            if self.is_resting:  # whole frames more, as many as the resting interval and the FIFO hold
                room = min(self._settings.resting_poll_s / self._period_s, self._max_samples) - samples
                samples += max(0, int(room // frame_samples)) * frame_samples
            samples = min(samples, self._max_samples)
            # the last sample still needed is made at most ``samples`` periods after this read
            wait_s = samples * self._period_s * 1.01 + MARGIN_S
        self.sensor_due_s = read_s + wait_s
        return self.sensor_due_s

    def next_wake_s(self, deadlines: Iterable[Optional[float]] = (), now_s: float = -math.inf) -> float:
        """The earliest of the next read and ``deadlines`` (``None`` and ``inf`` mean none). A deadline not
        after ``now_s`` was served by the step that just ran: counting it would spin the loop."""
        due = self.sensor_due_s
        for deadline in deadlines:
            if deadline is not None and now_s < deadline < due:
                due = deadline
        return due
