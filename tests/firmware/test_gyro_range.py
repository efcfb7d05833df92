"""The gyroscope's full scale is one fact, ``[sensor] gyro_range_dps``: the chip is set to it and the detection
pipeline knows from it when the gyro clipped (overrange), so the tilt is re-learned from the accelerometer.
Motion here is synthetic (a made-up roll onto the side)."""
from __future__ import annotations

import numpy as np
import pytest

from firmware_py.detection.calibration import Calibration
from firmware_py.config import ConfigError, config_from_dict
from firmware_py.daemon.wiring import build_pipeline
from hal.emulated import ArrayMotion, EmulatedI2CBus, EmulatedMpu6050
from hal.mpu6050 import Mpu6050

ROLL_AT_S = 3.0


def roll_onto_the_side(rate_dps: float = 800.0) -> ArrayMotion:
    """Standing still, then at 3 s a roll of 90° at ``rate_dps`` onto the side, then lying still; the
    accelerometer follows the true tilt."""
    t_s = np.arange(0.0, 6.0, 0.001)
    roll_deg = np.clip((t_s - ROLL_AT_S) * rate_dps, 0.0, 90.0)
    gyro_dps = np.zeros((len(t_s), 3))
    gyro_dps[(roll_deg > 0) & (roll_deg < 90), 0] = rate_dps
    roll = np.radians(roll_deg)
    return ArrayMotion(t_s, np.c_[np.zeros_like(roll), np.sin(roll), np.cos(roll)], gyro_dps)


def tilt_1s_after_the_roll(fake_clock, gyro_range_dps: int) -> float:
    config = config_from_dict({"sensor": {"gyro_range_dps": gyro_range_dps}})
    chip = EmulatedMpu6050(fake_clock, motion=roll_onto_the_side())
    sensor = Mpu6050(EmulatedI2CBus({0x68: chip}), config.sensor, fake_clock)
    pipeline = build_pipeline(config, Calibration())
    while chip.now_s() < ROLL_AT_S + 1.0:
        fake_clock.advance(0.1)
        pipeline.process(sensor.read())
    return pipeline.state()["tilt_deg"]


@pytest.mark.parametrize("gyro_range_dps", [250, 500])
def test_tilt_reads_lying_soon_after_a_roll_that_clipped_a_smaller_gyro_range(fake_clock, gyro_range_dps):
    # 800 °/s clips at ±500 or ±250 °/s: integrating the gyro alone leaves the tilt at ~57° or ~26°
    assert tilt_1s_after_the_roll(fake_clock, gyro_range_dps) > 80.0


def test_tilt_reads_lying_after_a_roll_that_fits_the_default_range(fake_clock):
    assert tilt_1s_after_the_roll(fake_clock, 2000) > 80.0


def test_orientation_table_no_longer_takes_a_gyro_range_and_says_where_it_went():
    with pytest.raises(ConfigError, match=r"\[detection.orientation\] gyro_range_dps .*\[sensor\] gyro_range_dps"):
        config_from_dict({"detection": {"orientation": {"gyro_range_dps": 500.0}}})


def test_replay_with_a_config_takes_the_recordings_gyro_range_from_its_sensor_section(tmp_path):
    from firmware_py.evaluation.recording import Recording
    from firmware_py.evaluation.evaluate import settings_from_config
    from firmware_py.evaluation.replay import replay

    t_s = np.arange(0.0, 6.0, 0.005)                 # what a ±500 °/s sensor recorded of the roll at 200 Hz
    accel_g, gyro_dps = roll_onto_the_side().sample(t_s)
    recording = Recording(name="roll", t_s=t_s, accel_g=accel_g, gyro_dps=np.clip(gyro_dps, -500.0, 500.0),
                          body_from_sensor=np.eye(3), kind="other", activity="roll", impact_index=None,
                          synthetic=True)
    config_file = tmp_path / "retrowalk.toml"
    config_file.write_text("[sensor]\ngyro_range_dps = 500\n")
    settings, make_pipeline = settings_from_config(config_file)
    trace = replay(recording, settings, make_pipeline=make_pipeline)
    one_s_after = np.searchsorted(trace.t_s, ROLL_AT_S + 1.0)
    assert trace.state["tilt_deg"][one_s_after] > 80.0
    assert replay(recording).state["tilt_deg"][one_s_after] < 70.0   # read as a ±2000 °/s recording
