"""Calibration: gyro bias and the sensor-to-body rotation from a still, upright wearer."""
from __future__ import annotations

import numpy as np
import pytest

from firmware_py.detection.calibration import Calibration, NotStillError, calibrate_at_rest
from hal.types import SampleBlock

SISFALL_BODY_FROM_SENSOR = ((0, 0, 1), (-1, 0, 0), (0, -1, 0))


def _pitch(deg: float) -> np.ndarray:
    """Rotation about the body's y (left) axis: positive pitches the device's top forward."""
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _still_block(sensor_from_body: np.ndarray, bias_dps, seconds: float = 2.0, noise_g: float = 0.003,
                 noise_dps: float = 0.2, seed: int = 0) -> SampleBlock:
    rng = np.random.default_rng(seed)
    n = int(seconds * 200)
    up_sensor = sensor_from_body @ np.array([0.0, 0.0, 1.0])
    accel = up_sensor + rng.normal(0, noise_g, (n, 3))
    gyro = np.asarray(bias_dps) + rng.normal(0, noise_dps, (n, 3))
    return SampleBlock(np.arange(n) / 200.0, accel, gyro)


def test_calibration_recovers_the_mounting_when_the_device_sits_pitched_on_the_belt():
    # worn like SisFall's device (+z forward, +y down, +x right), tipped 15° forward on the belt
    true_body_from_sensor = _pitch(15.0) @ np.array(SISFALL_BODY_FROM_SENSOR, dtype=float)
    block = _still_block(true_body_from_sensor.T, bias_dps=(-3.0, 1.5, 0.4))

    cal = calibrate_at_rest(block, forward_axis="+z")

    angle_error_deg = np.degrees(np.arccos(np.clip((np.trace(cal.rotation.T @ true_body_from_sensor) - 1) / 2,
                                                   -1, 1)))
    assert angle_error_deg < 1.0
    assert np.allclose(cal.gyro_bias_dps, (-3.0, 1.5, 0.4), atol=0.1)


def test_calibrated_samples_read_one_g_up_when_the_wearer_stands():
    true_body_from_sensor = _pitch(-20.0) @ np.array(SISFALL_BODY_FROM_SENSOR, dtype=float)
    block = _still_block(true_body_from_sensor.T, bias_dps=(2.0, 0.0, -1.0), seed=1)
    cal = calibrate_at_rest(block, forward_axis="+z")

    accel_body, gyro_body = cal.to_body(block.accel_g, block.gyro_dps)

    assert np.allclose(accel_body.mean(axis=0), (0, 0, 1), atol=0.01)
    assert np.allclose(gyro_body.mean(axis=0), 0, atol=0.1)


def test_calibration_refuses_when_the_wearer_moved():
    block = _still_block(np.eye(3), bias_dps=(0, 0, 0), noise_dps=20.0)
    with pytest.raises(NotStillError, match="not still.*gyro spread"):
        calibrate_at_rest(block)


def test_calibration_refuses_when_the_recording_is_too_short():
    block = _still_block(np.eye(3), bias_dps=(0, 0, 0), seconds=0.2)
    with pytest.raises(NotStillError, match="at least 0.5 s"):
        calibrate_at_rest(block)


def test_calibration_names_the_axis_when_forward_axis_points_up():
    block = _still_block(np.eye(3), bias_dps=(0, 0, 0))      # sensor z is up as worn
    with pytest.raises(ValueError, match=r"forward_axis = '\+z' points nearly vertical"):
        calibrate_at_rest(block, forward_axis="+z")


def test_calibration_survives_a_round_trip_through_its_dict():
    cal = Calibration(gyro_bias_dps=(1.0, -2.0, 0.5), body_from_sensor=SISFALL_BODY_FROM_SENSOR)
    again = Calibration.from_dict(cal.to_dict())
    assert again == cal


def test_calibration_rejects_a_matrix_that_is_not_a_rotation():
    with pytest.raises(ValueError, match="is not a rotation"):
        Calibration(body_from_sensor=((1, 0, 0), (0, 1, 0), (0, 0, -1)))     # a mirror


def test_calibration_from_dict_names_the_missing_key():
    with pytest.raises(ValueError, match="missing 'body_from_sensor'"):
        Calibration.from_dict({"gyro_bias_dps": [0, 0, 0]})
