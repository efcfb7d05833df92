"""Synthetic traces: seeded, labelled synthetic, and physically consistent (gravity, gyro integral, gait)."""
from __future__ import annotations

import numpy as np
import pytest

from firmware_py.evaluation import scenarios


def test_same_seed_gives_the_same_trace_when_generated_twice():
    a, b = scenarios.demo_walk(seed=4), scenarios.demo_walk(seed=4)
    assert np.array_equal(a.accel_g, b.accel_g) and np.array_equal(a.gyro_dps, b.gyro_dps)
    assert a.truth == b.truth
    c = scenarios.demo_walk(seed=5)
    assert not np.allclose(a.accel_g, c.accel_g)


@pytest.mark.parametrize("make", [scenarios.standing, scenarios.backward_walk, scenarios.stumble,
                                  scenarios.backward_fall, scenarios.slow_backward_fall, scenarios.forward_fall,
                                  scenarios.sitting,
                                  scenarios.demo_walk])
def test_every_trace_says_it_is_synthetic_when_made(make):
    scenario = make(seed=1)
    assert scenario.synthetic is True and "synthetic" in scenario.name
    assert scenario.accel_g.shape == scenario.gyro_dps.shape == (len(scenario.t_s), 3)


def test_standing_reads_one_g_up_when_still():
    s = scenarios.standing(10.0, seed=2)
    magnitude = np.linalg.norm(s.accel_g, axis=1)
    assert np.mean(magnitude) == pytest.approx(1.0, abs=0.01)
    assert np.mean(s.accel_g[:, 2]) == pytest.approx(1.0, abs=0.01)
    assert np.max(np.abs(s.gyro_dps)) < 3.0


def test_backward_fall_ends_lying_on_the_back_when_still():
    s = scenarios.backward_fall(seed=0, lie_s=5.0)
    lying = s.accel_g[-400:].mean(axis=0)
    assert lying == pytest.approx([1.0, 0.0, 0.0], abs=0.02)   # chest (x) faces up
    assert s.tilt_deg[-1] == pytest.approx(90.0, abs=1.0)
    forward = scenarios.forward_fall(seed=0, lie_s=5.0)
    assert forward.accel_g[-400:].mean(axis=0) == pytest.approx([-1.0, 0.0, 0.0], abs=0.02)


def test_tilt_from_gyro_integral_matches_the_trace_when_falling_backwards():
    s = scenarios.backward_fall(seed=3, lie_s=2.0)
    onset, impact = s.truth_times("loss_of_balance")[0], s.truth_times("fall")[0]
    i0, i1 = np.searchsorted(s.t_s, [onset - 0.2, impact + 0.5])
    dt = 1.0 / s.rate_hz
    pitch_change_deg = np.sum(s.gyro_dps[i0:i1, 1]) * dt
    # pitch goes backwards (negative) by the tilt gained: from near upright to lying
    assert pitch_change_deg == pytest.approx(-(s.tilt_deg[i1] - s.tilt_deg[i0]), abs=2.0)
    # and the accelerometer agrees before and after (gravity direction)
    before, after = s.accel_g[i0 - 100:i0].mean(0), s.accel_g[i1:i1 + 100].mean(0)
    angle = np.degrees(np.arccos(np.dot(before, after) / np.linalg.norm(before) / np.linalg.norm(after)))
    assert angle == pytest.approx(abs(pitch_change_deg), abs=5.0)


def test_fall_has_free_fall_dip_then_impact_when_falling():
    s = scenarios.backward_fall(seed=0, impact_peak_g=5.0)
    onset, impact = s.truth_times("loss_of_balance")[0], s.truth_times("fall")[0]
    magnitude = np.linalg.norm(s.accel_g, axis=1)
    falling = (s.t_s >= onset) & (s.t_s < impact)
    assert magnitude[falling].min() < 0.5
    assert 3.0 <= magnitude.max() <= 6.0
    assert 0.5 <= impact - onset <= 1.2
    peak_t = s.t_s[np.argmax(magnitude)]
    assert impact <= peak_t <= impact + 0.2
    assert np.min(s.gyro_dps[falling, 1]) < -150.0   # the backward rate grows past 150 °/s


def test_slow_backward_slip_stays_under_classic_rate_thresholds_when_falling():
    s = scenarios.slow_backward_fall(seed=0, lie_s=3.0)
    onset, impact = s.truth_times("loss_of_balance")[0], s.truth_times("fall")[0]
    assert impact - onset > 1.0
    before_impact = s.t_s < impact
    assert np.max(np.abs(s.gyro_dps[before_impact])) < 140.0
    assert s.accel_g[-100:].mean(axis=0) == pytest.approx([1.0, 0.0, 0.0], abs=0.02)


def test_walk_bounces_at_the_step_frequency_when_walking_backwards():
    s = scenarios.backward_walk(30.0, seed=0, cadence_spm=96.0)
    vertical = s.accel_g[600:, 2] - s.accel_g[600:, 2].mean()
    spectrum = np.abs(np.fft.rfft(vertical))
    freqs = np.fft.rfftfreq(len(vertical), 1.0 / s.rate_hz)
    assert freqs[np.argmax(spectrum)] == pytest.approx(96.0 / 60.0, abs=0.1)
    bounce_g = 2 * spectrum.max() / len(vertical)          # amplitude of the step-frequency component
    assert 0.2 <= bounce_g <= 0.4
    magnitude = np.linalg.norm(s.accel_g[600:], axis=1)
    assert 1.4 <= np.percentile(magnitude, 99) <= 1.9       # foot contacts, as in SisFall's walking trials
    assert np.max(np.abs(s.gyro_dps)) < 40.0   # trunk rates stay small while walking


def test_stumble_returns_upright_when_over():
    s = scenarios.stumble(seed=0, peak_tilt_deg=12.0)
    t_stumble = s.truth_times("stumble")[0]
    during = (s.t_s > t_stumble) & (s.t_s < t_stumble + 0.5)
    assert s.tilt_deg[during].max() > 10.0
    assert s.tilt_deg[-100:].max() < 2.0


def test_demo_walk_has_stumble_fall_and_long_enough_stillness_when_made():
    s = scenarios.demo_walk(seed=0)
    assert 45.0 <= s.duration_s <= 65.0
    kinds = [kind for kind, _ in s.truth]
    assert kinds == ["stumble", "loss_of_balance", "fall", "help_needed"]
    assert s.truth_times("help_needed")[0] == pytest.approx(s.truth_times("fall")[0] + 30.0)
    assert s.duration_s - s.truth_times("fall")[0] >= 34.0
    short = scenarios.demo_walk(seed=0, help_needed_after_s=5.0)
    assert short.duration_s < s.duration_s and short.truth_times("help_needed")


def test_demo_walk_lies_still_past_the_detector_default_when_defaults_change():
    stillness = pytest.importorskip("firmware_py.detection.detectors.stillness")
    help_after_s = stillness.StillnessSettings().help_after_s
    s = scenarios.demo_walk(seed=0)
    assert s.duration_s - s.truth_times("fall")[0] > help_after_s


def test_blocks_cover_every_sample_once_when_fed_to_a_pipeline():
    s = scenarios.standing(3.0, seed=0)
    blocks = list(s.blocks(0.1))
    assert all(len(b) == 20 for b in blocks)
    assert np.array_equal(np.concatenate([b.t_s for b in blocks]), s.t_s)


def test_bad_settings_are_refused_when_named():
    with pytest.raises(ValueError, match="direction = 'sideways'"):
        scenarios.stumble(direction="sideways")
    with pytest.raises(ValueError, match="impact_peak_g = 40"):
        scenarios.backward_fall(impact_peak_g=40)
