"""The daemon's own timing figures: which samples count as completing a frame, and the percentiles."""
from __future__ import annotations

import numpy as np
import pytest

from firmware_py.daemon.timing import TimingStats


def test_only_the_samples_that_complete_a_frame_are_timed_from_their_own_time_stamp():
    stats = TimingStats()
    t_s = 100.0 + 0.005 * np.arange(25)  # the open frame needs 3 more samples; frames of 10
    stats.frames_done(t_s, samples_until_frame=3, frame_samples=10, done_s=t_s[-1] + 0.002)
    # samples 2, 12 and 22 complete frames: they waited 112, 62 and 12 ms
    assert stats.sample_to_event.n == 3
    assert stats.summary()["sample_to_event_max_ms"] == pytest.approx(112.0)
    assert stats.sample_to_event.percentile_ms(50) == pytest.approx(62.0, abs=0.11)  # its 0.1 ms bin


def test_a_block_that_completes_no_frame_adds_nothing_and_resting_frames_are_kept_apart():
    stats = TimingStats()
    stats.frames_done(np.arange(5) * 0.005, samples_until_frame=8, frame_samples=10, done_s=1.0)
    assert stats.sample_to_event.n == 0
    stats.frames_done(np.array([0.0]), samples_until_frame=1, frame_samples=10, done_s=0.15, resting=True)
    summary = stats.summary()
    assert summary["frames_timed"] == 0 and summary["frames_timed_resting"] == 1
    assert summary["sample_to_event_p99_ms"] is None
    assert summary["sample_to_event_p99_ms_resting"] == pytest.approx(150.0)


def test_event_to_buzzer_percentiles_come_from_every_alarm():
    stats = TimingStats()
    for seconds in (0.00005, 0.00008, 0.003):
        stats.buzzer(seconds)
    summary = stats.summary()
    assert summary["alarms_timed"] == 3 and summary["buzzer_max_ms"] == pytest.approx(3.0)
    assert summary["buzzer_p99_ms"] == pytest.approx(3.0)
    assert summary["buzzer_p50_ms"] == pytest.approx(0.1)  # 0.08 ms falls in the first 0.1 ms bin
