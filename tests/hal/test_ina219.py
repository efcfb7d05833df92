"""The real INA219 driver against the emulated INA219 on an emulated battery (virtual time): readings,
charging, bad readings and a vanished chip."""
from __future__ import annotations

import pytest

from hal.emulated import EmulatedI2CBus, FaultPlan
from hal.emulated_gauges import EmulatedBattery, EmulatedIna219
from hal.errors import GaugeBusError, GaugeNotFound, GaugeReadingError
from hal.ina219 import Ina219
from hal import ina219_registers as R
from hal import lipo

ADDRESS = 0x43


def gauge_on(clock, settle=True, **chip):
    """The driver on an emulated chip; ``settle`` waits for the first conversions (0.14 s), as the monitor does."""
    chip_ = EmulatedIna219(clock, **chip)
    gauge = Ina219(EmulatedI2CBus({ADDRESS: chip_}), ADDRESS, clock=clock)
    if settle:
        clock.advance(0.2)
    return gauge, chip_


def test_reading_gives_the_cells_voltage_charge_and_that_it_discharges_when_the_pi_runs_from_it(fake_clock):
    gauge, _ = gauge_on(fake_clock, battery=EmulatedBattery(start_percent=65.0))
    reading = gauge.read()
    assert reading.voltage_v == pytest.approx(lipo.voltage_from_percent(65.0), abs=0.004)  # one 4 mV step
    assert reading.percent == pytest.approx(65.0, abs=1.0)
    assert reading.current_a == pytest.approx(-0.35, abs=0.001)  # 0.1 mA per bit
    assert not reading.charging


def test_reading_says_charging_when_the_charger_fills_the_cell(fake_clock):
    gauge, _ = gauge_on(fake_clock, battery=EmulatedBattery(start_percent=40.0, charging_windows_s=[(0, 100)]))
    reading = gauge.read()
    assert reading.charging and reading.current_a == pytest.approx(0.8, abs=0.001)


def test_charge_falls_as_the_battery_drains_on_virtual_time(fake_clock):
    gauge, _ = gauge_on(fake_clock, battery=EmulatedBattery(start_percent=50.0, drain_percent_per_s=1.0))
    first = gauge.read().percent
    fake_clock.advance(30.0)
    assert gauge.read().percent == pytest.approx(first - 30.0, abs=1.5)


def test_driver_writes_the_calibration_for_the_shunt_and_the_chip_keeps_it(fake_clock):
    gauge, chip = gauge_on(fake_clock)
    assert gauge.calibration == 4096
    assert chip._register_value(R.CALIBRATION) == 4096
    assert R.CONFIG_BADC.get(chip._register_value(R.CONFIGURATION)) == R.ADC_12BIT_128_SAMPLES


def test_overflow_is_a_reading_error_naming_the_shunt_setting(fake_clock):
    gauge, _ = gauge_on(fake_clock, overflow_windows_s=[(0, 10)])
    with pytest.raises(GaugeReadingError, match="overflow.*shunt_ohms"):
        gauge.read()
    fake_clock.advance(10.0)
    assert gauge.read().voltage_v > 3.0  # the next reading after the glitch is good again


def test_a_voltage_no_lipo_has_is_a_reading_error(fake_clock):
    class Unplugged:  # the HAT's input floats without a cell
        @staticmethod
        def state(t_s):
            return 0.4, 0.0

    gauge, chip = gauge_on(fake_clock)
    chip.battery = Unplugged()
    with pytest.raises(GaugeReadingError, match="0.400 V is no LiPo"):
        gauge.read()


def test_nothing_at_the_address_is_gauge_not_found_with_the_fix(fake_clock):
    with pytest.raises(GaugeNotFound, match="no INA219 answers on I2C bus 1 at address 0x43.*i2cdetect"):
        Ina219(EmulatedI2CBus({}), ADDRESS, clock=fake_clock)


def test_a_vanished_chip_is_retried_a_bounded_number_of_times_then_a_bus_error(fake_clock):
    gauge, _ = gauge_on(fake_clock, faults=FaultPlan(vanish_windows_s=[(5, 60)]))
    fake_clock.advance(5.0)
    with pytest.raises(GaugeBusError, match="Remote I/O error.*after 4 attempts"):
        gauge.read()
    assert gauge.retries == 3
    fake_clock.advance(60.0)
    assert gauge.read().percent > 0  # back, with its registers


def test_a_chip_that_does_not_keep_the_calibration_is_not_taken_for_an_ina219(fake_clock):
    class Forgetful(EmulatedIna219):
        def _write_register(self, register, value):
            if register != R.CALIBRATION:
                super()._write_register(register, value)

    with pytest.raises(GaugeNotFound, match="not an INA219"):
        Ina219(EmulatedI2CBus({ADDRESS: Forgetful(fake_clock)}), ADDRESS, clock=fake_clock)


def test_a_reading_before_the_first_conversion_is_a_reading_error_not_zero_volts(fake_clock):
    gauge, _ = gauge_on(fake_clock, settle=False)
    with pytest.raises(GaugeReadingError, match="no conversion has finished yet"):
        gauge.read()  # 128-sample averaging: 2 x 68.1 ms before the first result
    fake_clock.advance(0.14)
    assert gauge.read().voltage_v > 3.0
