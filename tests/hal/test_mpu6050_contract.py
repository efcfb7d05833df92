"""The same checks on the emulated chip and, on a Raspberry Pi with an MPU-6050 wired, on the real one.

The real case runs only when ``RETROWALK_TEST_I2C_BUS`` names the bus (e.g. ``RETROWALK_TEST_I2C_BUS=1``;
``RETROWALK_TEST_I2C_ADDRESS=0x69`` if AD0 is high); keep the sensor still on a table meanwhile.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from hal.clock import FakeClock, MonotonicClock
from hal.emulated import EmulatedI2CBus, EmulatedMpu6050, SensorNoise
from hal.mpu6050 import Mpu6050, SensorSettings

BACKENDS = ["emulated", pytest.param("smbus", marks=pytest.mark.hardware)]


@pytest.fixture(params=BACKENDS)
def sensor(request):
    """(driver, wait) where ``wait(seconds)`` lets time pass on that backend's clock."""
    settings = SensorSettings(sample_rate_hz=200, accel_range_g=16, gyro_range_dps=2000)
    if request.param == "emulated":
        clock = FakeClock()
        chip = EmulatedMpu6050(clock, noise=SensorNoise(seed=1))
        driver = Mpu6050(EmulatedI2CBus({0x68: chip}), settings, clock)
        wait = clock.advance
    else:
        bus_number = os.environ.get("RETROWALK_TEST_I2C_BUS")
        if not bus_number:
            pytest.skip("set RETROWALK_TEST_I2C_BUS=1 on a Pi with an MPU-6050 wired to run on real hardware")
        address = int(os.environ.get("RETROWALK_TEST_I2C_ADDRESS", "0x68"), 0)
        clock = MonotonicClock()
        driver = Mpu6050.open(SensorSettings(bus=int(bus_number), address=address, sample_rate_hz=200,
                                             accel_range_g=16, gyro_range_dps=2000), clock)
        wait = clock.sleep
    yield driver, wait
    driver.close()


def test_still_sensor_reads_one_g_and_little_rotation_when_read_once(sensor):
    driver, wait = sensor
    wait(0.05)
    block = driver.read_single()
    assert np.linalg.norm(block.accel_g[0]) == pytest.approx(1.0, abs=0.15)
    assert np.abs(block.gyro_dps[0]).max() < 10.0
    assert -40.0 < block.temp_c < 85.0


def test_fifo_delivers_every_sample_at_the_output_rate_when_drained(sensor):
    driver, wait = sensor
    driver.read()
    blocks = []
    for _ in range(5):
        wait(0.1)
        blocks.append(driver.read())
    t_s = np.concatenate([b.t_s for b in blocks])
    assert sum(b.lost_samples for b in blocks) == 0
    assert len(t_s) == pytest.approx(100, abs=3)
    assert np.all(np.diff(t_s) > 0)
    assert np.median(np.diff(t_s)) == pytest.approx(0.005, rel=0.03)
    accel_g = np.concatenate([b.accel_g for b in blocks])
    assert np.linalg.norm(accel_g.mean(axis=0)) == pytest.approx(1.0, abs=0.15)


def test_self_test_passes_when_the_chip_is_healthy_and_still(sensor):
    driver, _ = sensor
    result = driver.self_test()
    assert result.passed, str(result)
