"""What the pre-impact model is told about each frame: descent, history, and the motion itself."""
from __future__ import annotations

import pytest

from firmware_py.detection.detectors.fall_features import FEATURE_NAMES, MEMORY_S, WARM_UP_S, FallFeatures
from firmware_py.detection.detectors.motion import Motion


def _as_dict(values):
    assert len(values) == len(FEATURE_NAMES)
    return dict(zip(FEATURE_NAMES, values))


def _frame(t, **kw) -> Motion:
    return Motion(t_s=t, t_peak_s=t, **kw)


def test_a_descent_is_timed_measured_and_forgotten_when_it_ends():
    f = FallFeatures()
    for i in range(10):
        f.update(_frame(i * 0.05, tilt_deg=5.0))
    x = None
    for i in range(4):                              # 0.2 s going down at 1 m/s, tilting 10° a frame
        x = _as_dict(f.update(_frame(0.5 + i * 0.05, tilt_deg=5.0 + 10.0 * (i + 1), vertical_speed_m_s=-1.0)))
    assert x["descent_s"] == pytest.approx(0.2)
    assert x["descent_m"] == pytest.approx(-0.2)    # 0.2 s at 1 m/s, down
    assert x["descent_tilt_deg"] == pytest.approx(40.0)
    assert f.is_descending
    x = _as_dict(f.update(_frame(0.7, tilt_deg=45.0, vertical_speed_m_s=0.1)))
    assert (x["descent_s"], x["descent_m"], x["descent_tilt_deg"]) == (0.0, 0.0, 0.0)
    assert not f.is_descending


def test_history_says_how_long_ago_the_wearer_walked_and_stood_upright():
    f = FallFeatures(upright_deg=35.0)
    f.update(_frame(0.0, tilt_deg=5.0, is_walking=True))
    x = _as_dict(f.update(_frame(1.0, tilt_deg=60.0)))
    assert x["walked_ago_s"] == pytest.approx(1.0) and x["upright_ago_s"] == pytest.approx(1.0)
    x = _as_dict(f.update(_frame(30.0, tilt_deg=60.0)))
    assert x["walked_ago_s"] == MEMORY_S and x["upright_ago_s"] == MEMORY_S


def test_speed_before_is_the_speed_four_frames_back():
    f = FallFeatures()
    speeds = [0.0, -0.1, -0.2, -0.3, -0.4, -0.5]
    out = [_as_dict(f.update(_frame(i * 0.05, vertical_speed_m_s=v)))["speed_before_m_s"] for i, v in enumerate(speeds)]
    assert out == [0.0, 0.0, 0.0, 0.0, 0.0, -0.1]


def test_features_are_warm_once_the_warm_up_has_passed():
    f = FallFeatures()
    f.update(_frame(10.0))
    f.update(_frame(10.0 + WARM_UP_S - 0.001))
    assert not f.is_warm
    f.update(_frame(10.0 + WARM_UP_S))
    assert f.is_warm
    assert WARM_UP_S == 1.5          # long enough to know whether the wearer was walking (a stride ~1 s)


def test_rates_and_accelerations_reach_the_model_unchanged():
    x = _as_dict(FallFeatures().update(_frame(0.0, tilt_rate_dps=80.0, step_rate_dps=40.0, roll_rate_dps=-30.0,
                                              yaw_rate_dps=12.0, accel_low_g=0.4, horizontal_accel_g=0.3)))
    assert x["rate_over_gait"] == pytest.approx(2.0)
    assert x["roll_rate_dps"] == 30.0 and x["yaw_rate_dps"] == 12.0
    assert x["accel_low_g"] == 0.4 and x["horizontal_accel_g"] == 0.3
