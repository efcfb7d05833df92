"""The WHO_AM_I check and its advice: one wording, given by the driver (and ``retrowalk selftest``)."""
from __future__ import annotations

import pytest

from hal.emulated import EmulatedI2CBus, EmulatedMpu6050
from hal.errors import SensorIdentityError, SensorNotFound
from hal.mpu6050 import Mpu6050, SensorSettings
from hal.mpu6050_identity import IDENTITY_FIX, check_identity, identity_problem, wiring_hint


def test_an_mpu6050_has_no_identity_problem_when_who_am_i_reads_0x68():
    assert identity_problem(0x68) is None
    check_identity(0x68, bus=1, address=0x68)


@pytest.mark.parametrize("who_am_i, needle", [(0x70, "MPU-6500"), (0x00, "pull-up"), (0xFF, "pull-up")])
def test_the_value_read_and_what_it_suggests_are_named_when_who_am_i_differs(who_am_i, needle):
    problem = identity_problem(who_am_i)
    assert f"reads 0x{who_am_i:02x}, expected 0x68" in problem and needle in problem


def test_the_driver_says_the_shared_problem_and_fix_when_another_chip_answers(fake_clock):
    bus = EmulatedI2CBus({0x69: EmulatedMpu6050(fake_clock, who_am_i=0x71)})
    with pytest.raises(SensorIdentityError) as info:
        Mpu6050(bus, SensorSettings(address=0x69), fake_clock)
    assert str(info.value) == f"I2C bus 1, address 0x69: {identity_problem(0x71)}. Fixes: {IDENTITY_FIX}"


def test_the_wiring_hint_names_the_configured_bus_when_nothing_answers(fake_clock):
    bus = EmulatedI2CBus({})
    with pytest.raises(SensorNotFound) as info:
        Mpu6050(bus, SensorSettings(bus=3), fake_clock)
    assert str(info.value).endswith(wiring_hint(3)) and "'i2cdetect -y 3'" in str(info.value)
