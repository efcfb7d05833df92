"""The MAX17048 fuel gauge: its register map pinned to the datasheet, and the real driver against the emulated
chip on an emulated battery (virtual time)."""
from __future__ import annotations

import pytest

from hal import max17048_registers as R
from hal.emulated import EmulatedI2CBus, FaultPlan
from hal.emulated_gauges import EmulatedBattery, EmulatedMax17048
from hal.errors import GaugeBusError, GaugeNotFound
from hal.max17048 import Max17048
from hal import lipo


def test_register_map_is_the_datasheets():
    assert R.ADDRESS == 0x36
    assert (R.VCELL, R.SOC, R.MODE, R.VERSION, R.HIBRT, R.CONFIG) == (0x02, 0x04, 0x06, 0x08, 0x0A, 0x0C)
    assert (R.VALRT, R.CRATE, R.VRESET_ID, R.STATUS, R.CMD) == (0x14, 0x16, 0x18, 0x1A, 0xFE)
    assert R.VCELL_LSB_V == 78.125e-6 and R.SOC_LSB_PERCENT == 1 / 256 and R.CRATE_LSB_PERCENT_PER_H == 0.208
    assert R.CONFIG_RESET_VALUE == 0x971C
    assert R.VERSION_FAMILY.get(0x0012) == 0x001 and R.VERSION_FAMILY.get(0x0011) == 0x001


def gauge_on(clock, **chip):
    return Max17048(EmulatedI2CBus({R.ADDRESS: EmulatedMax17048(clock, **chip)}), clock=clock)


def test_reading_gives_the_chips_charge_voltage_and_no_current(fake_clock):
    gauge = gauge_on(fake_clock, battery=EmulatedBattery(start_percent=61.25))
    reading = gauge.read()
    assert reading.percent == pytest.approx(61.2, abs=0.1)  # 1/256 % steps, rounded to 0.1
    assert reading.voltage_v == pytest.approx(lipo.voltage_from_percent(61.25), abs=0.001)
    assert reading.current_a is None and not reading.charging


def test_charging_follows_the_charge_rate(fake_clock):
    gauge = gauge_on(fake_clock, battery=EmulatedBattery(start_percent=30.0, charging_windows_s=[(0, 100)]))
    assert gauge.read().charging


def test_a_chip_with_another_version_is_not_taken_for_a_max17048(fake_clock):
    with pytest.raises(GaugeNotFound, match="VERSION reads 0x0031.*not a MAX17048"):
        gauge_on(fake_clock, version=0x0031)


def test_nothing_at_0x36_is_gauge_not_found(fake_clock):
    with pytest.raises(GaugeNotFound, match="no MAX17048 answers on I2C bus 1 at address 0x36"):
        Max17048(EmulatedI2CBus({}), clock=fake_clock)


def test_a_vanished_chip_is_a_bus_error_after_bounded_retries(fake_clock):
    gauge = gauge_on(fake_clock, faults=FaultPlan(vanish_windows_s=[(1, 10)]))
    fake_clock.advance(1.0)
    with pytest.raises(GaugeBusError, match="after 4 attempts"):
        gauge.read()
    assert gauge.retries == 3
