"""When each sample drained from the MPU-6050's FIFO was made.

The FIFO keeps no timestamps, so the times are reconstructed: the chip writes one frame per output-data-rate
period, anchored to the host clock when the FIFO was started and bounded by what the host knows of each read.
Python's reading times never become sample times (their jitter would be the signal's).
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

__all__ = ["SampleTimeline"]


class SampleTimeline:
    """The output data rate anchored to the host clock, continued block after block.

    Parameters
    ----------
    rate_hz : float
        The output data rate the chip is configured for.

    Attributes
    ----------
    last_s : float
        The time given to the newest sample so far.
    seen_at_s : float
        When the host last looked at the FIFO: every sample not yet drained was made after it.
    """

    def __init__(self, rate_hz: float) -> None:
        self.rate_hz = float(rate_hz)
        self.period_s = 1.0 / self.rate_hz
        self.last_s = 0.0
        self.seen_at_s = 0.0

    def restart(self, enabled_at_s: float) -> None:
        """The FIFO was (re)started at ``enabled_at_s``: the first frame lands within one period of it, so
        it is expected half a period after."""
        self.seen_at_s = enabled_at_s
        self.last_s = enabled_at_s - self.period_s / 2

    def samples_since(self, before_s: float) -> int:
        """Output-data-rate periods between ``before_s`` (an earlier ``last_s``) and ``last_s``."""
        return max(0, int(round((self.last_s - before_s) * self.rate_hz)))

    def place(self, n: int, now_s: float) -> Tuple[np.ndarray, int]:
        """Times of ``n`` new samples continuing the previous block, and the samples missing before them.

        Two facts bound them: every new sample was made after the previous read saw the FIFO
        (``seen_at_s``), and none after ``now_s``. Inside those bounds the timeline just continues; a
        prediction outside them is slewed back across the block (absorbing the chip oscillator's ~1 %
        error without jumps). A first sample predicted well before the previous read is impossible unless
        the chip made no samples for a while (frozen, or a bus outage): re-anchor and report the gap.
        """
        period_s = self.period_s
        steps = np.arange(1, n + 1)
        t_s = self.last_s + period_s * steps
        # the first and last times again as Python floats (the same arithmetic): the checks below then make
        # no numpy scalars, which cost far more than the comparisons on a CPU that just woke
        early_s = self.seen_at_s - (self.last_s + period_s)
        late_s = (self.last_s + period_s * n) - now_s
        limit_s = max(3 * period_s, 0.02)
        gap = 0
        if early_s > limit_s or late_s > limit_s:
            t_s = (now_s - period_s / 2) - period_s * (n - steps)
            if early_s > limit_s:
                gap = max(0, int(round((t_s[0] - self.last_s) * self.rate_hz)) - 1)
        elif early_s > 0 and late_s > 0:
            # More samples than the window holds at the nominal rate (a fast oscillator): fill the window.
            t_s = np.linspace(self.seen_at_s, now_s, n + 1)[1:]
        elif early_s > 0 or late_s > 0:
            t_s = t_s + (early_s if early_s > 0 else -late_s) * steps / n
        self.last_s = float(t_s[-1])
        return t_s, gap
