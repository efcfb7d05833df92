"""Sample times reconstructed from the output data rate (the driver's timeline, without a chip)."""
from __future__ import annotations

import numpy as np
import pytest

from hal.mpu6050_timeline import SampleTimeline


def test_a_block_continues_the_previous_one_at_the_output_rate_when_it_fits_the_read_window():
    timeline = SampleTimeline(200.0)
    timeline.restart(10.0)
    t_s, gap = timeline.place(20, now_s=10.1)
    assert gap == 0
    assert t_s == pytest.approx(10.0 - 0.0025 + 0.005 * np.arange(1, 21))
    timeline.seen_at_s = 10.1
    t_s, gap = timeline.place(20, now_s=10.2)
    assert gap == 0 and t_s[0] == pytest.approx(10.1025) and t_s[-1] == pytest.approx(10.1975)


def test_the_timeline_reanchors_and_reports_the_gap_when_the_chip_made_nothing_for_a_while():
    timeline = SampleTimeline(200.0)
    timeline.restart(0.0)
    timeline.place(20, now_s=0.1)
    timeline.seen_at_s = 2.0                   # frozen from 0.1 s; this read finds 10 new samples
    t_s, gap = timeline.place(10, now_s=2.05)
    assert t_s[-1] == pytest.approx(2.05 - 0.0025)
    assert gap == pytest.approx((t_s[0] - 0.0975) * 200 - 1, abs=1)
    assert timeline.samples_since(0.0975) == round((t_s[-1] - 0.0975) * 200)
