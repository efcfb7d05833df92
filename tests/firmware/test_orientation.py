"""Tilt filter: right through free fall and impact, bias learned, recovery after gyro overrange."""
from __future__ import annotations

import math

import numpy as np
import pytest

from firmware_py.detection.orientation import OrientationFilter, OrientationSettings, tilt_and_lean_deg

FRAME_S = 0.05


def _frames(pitch_back_deg: np.ndarray, accel_scale: np.ndarray, seed: int = 0, bias_dps=(0.0, 0.0, 0.0),
            gyro_clip_dps: float = np.inf):
    """Body-frame frame means for a trunk pitching backwards by ``pitch_back_deg`` (per frame).

    ``accel_scale`` multiplies the gravity reading (0 = free fall, 6 = an impact).
    """
    rng = np.random.default_rng(seed)
    theta = np.radians(pitch_back_deg)
    up = np.stack([np.sin(theta), np.zeros_like(theta), np.cos(theta)], axis=1)
    accel = up * accel_scale[:, None] + rng.normal(0, 0.01, up.shape)
    rate_back_dps = np.gradient(pitch_back_deg, FRAME_S)
    gyro = np.zeros_like(up)
    gyro[:, 1] = -rate_back_dps                     # tipping backwards is a negative rate about +y (left)
    gyro += np.asarray(bias_dps) + rng.normal(0, 0.3, up.shape)
    overrange = np.abs(gyro).max(axis=1) >= gyro_clip_dps
    gyro = np.clip(gyro, -gyro_clip_dps, gyro_clip_dps)
    return np.full(len(theta), FRAME_S), accel, gyro, overrange


def _backward_fall(fall_s: float = 0.6):
    stand, fall, lie = int(3 / FRAME_S), int(fall_s / FRAME_S), int(4 / FRAME_S)
    pitch = np.concatenate([np.zeros(stand), np.linspace(0, 90, fall), np.full(lie, 90.0)])
    scale = np.concatenate([np.ones(stand), np.full(fall, 0.3), [6.0, 3.0], np.ones(lie - 2)])
    return pitch, scale, stand + fall


def test_tilt_follows_a_backward_fall_through_free_fall_and_impact():
    pitch, scale, impact = _backward_fall()
    posture = OrientationFilter().update(*_frames(pitch, scale))

    # during free fall and the impact the accelerometer is useless: the gyro must carry the tilt
    assert abs(posture.tilt_deg[impact - 1] - pitch[impact - 1]) < 5.0
    assert abs(posture.tilt_deg[impact + 2] - 90.0) < 5.0
    assert posture.lean_back_deg[-1] > 80.0       # lying on the back, not on the front


def test_filter_recovers_the_posture_when_the_gyro_went_over_range():
    pitch, scale, _ = _backward_fall(fall_s=0.3)    # 300 °/s, clipped at 150: the integral is wrong
    dt, accel, gyro, overrange = _frames(pitch, scale, gyro_clip_dps=150.0)
    assert overrange.any()

    posture = OrientationFilter().update(dt, accel, gyro, overrange)

    assert abs(posture.tilt_deg[-1] - 90.0) < 3.0


def test_gyro_bias_is_learned_when_standing_still():
    n = int(120 / FRAME_S)
    posture = OrientationFilter().update(*_frames(np.zeros(n), np.ones(n), bias_dps=(0.0, 4.0, 0.0)))
    # a proportional-only filter would sit ~4° off (bias / gain); the integral term removes it
    assert posture.tilt_deg[-1] < 1.0


def test_vertical_speed_goes_down_when_the_waist_drops():
    stand, drop = int(3 / FRAME_S), int(0.3 / FRAME_S)
    pitch = np.zeros(stand + drop)
    scale = np.concatenate([np.ones(stand), np.zeros(drop)])   # 0.3 s of free fall
    posture = OrientationFilter().update(*_frames(pitch, scale))
    assert posture.vertical_speed_m_s[stand - 1] == pytest.approx(0.0, abs=0.1)
    assert posture.vertical_speed_m_s[-1] < -2.0     # g * 0.3 s = 2.9 m/s, less a little leak


def test_orientation_settings_name_a_bad_value():
    with pytest.raises(ValueError, match="gain_per_s = -1 is not allowed"):
        OrientationSettings(gain_per_s=-1)


def test_tilt_and_lean_are_measured_from_the_reference_upright_when_one_is_given():
    lying_on_back = (1.0, 0.0, 0.0)          # "up" seen from a body lying on its back: along +x (anterior)
    assert tilt_and_lean_deg(lying_on_back) == pytest.approx((90.0, 90.0, 0.0))
    leaning_left = (0.0, -math.sin(math.radians(20.0)), math.cos(math.radians(20.0)))
    tilt, back, left = tilt_and_lean_deg(leaning_left)
    assert (tilt, back, left) == pytest.approx((20.0, 0.0, 20.0))
    # a wearer who stands 10° forwards as their upright: standing so is no tilt, upright is 10° backwards
    stoop = (-math.sin(math.radians(10.0)), 0.0, math.cos(math.radians(10.0)))
    assert tilt_and_lean_deg(stoop, stoop) == pytest.approx((0.0, 0.0, 0.0), abs=1e-6)
    assert tilt_and_lean_deg((0.0, 0.0, 1.0), stoop) == pytest.approx((10.0, 10.0, 0.0))
