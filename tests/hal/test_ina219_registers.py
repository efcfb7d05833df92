"""The INA219 register map pinned to the datasheet (TI SBOS448G), typed here from the document: a wrong
number in the shared table would otherwise fool driver and emulator alike."""
from __future__ import annotations

from hal import ina219_registers as R


def test_register_addresses_are_the_datasheets():
    assert (R.CONFIGURATION, R.SHUNT_VOLTAGE, R.BUS_VOLTAGE, R.POWER, R.CURRENT, R.CALIBRATION) == \
        (0x00, 0x01, 0x02, 0x03, 0x04, 0x05)


def test_configuration_resets_to_0x399f_and_its_fields_are_where_the_datasheet_puts_them():
    assert R.CONFIGURATION_RESET_VALUE == 0x399F
    reset = R.CONFIGURATION_RESET_VALUE
    # 32 V range, gain /8 (±320 mV), 12-bit bus and shunt ADC, shunt and bus continuous
    assert R.CONFIG_BRNG.get(reset) == 1 and R.CONFIG_PG.get(reset) == 3
    assert R.CONFIG_BADC.get(reset) == 0b0011 and R.CONFIG_SADC.get(reset) == 0b0011
    assert R.CONFIG_MODE.get(reset) == 0b111
    assert (R.CONFIG_RST.mask, R.CONFIG_BRNG.mask, R.CONFIG_PG.mask) == (0x8000, 0x2000, 0x1800)
    assert (R.CONFIG_BADC.mask, R.CONFIG_SADC.mask, R.CONFIG_MODE.mask) == (0x0780, 0x0078, 0x0007)


def test_bus_voltage_register_holds_4mv_steps_above_the_ready_and_overflow_flags():
    assert R.BUS_VOLTAGE_LSB_V == 0.004
    assert (R.BUS_VOLTAGE_BD.mask, R.BUS_VOLTAGE_CNVR.mask, R.BUS_VOLTAGE_OVF.mask) == (0xFFF8, 0x0002, 0x0001)
    # the datasheet's example: 0x1F40 >> 3 = 1000 steps = 4.000 V
    assert R.BUS_VOLTAGE_BD.get(0x1F40) * R.BUS_VOLTAGE_LSB_V == 4.0


def test_calibration_follows_equation_1_with_the_void_bit_cleared():
    assert R.SHUNT_VOLTAGE_LSB_V == 10e-6
    assert R.CALIBRATION_SCALE == 0.04096
    # the datasheet's worked example: 100 µA per bit across 0.1 Ω gives 4096
    assert R.calibration_value(0.0001, 0.1) == 4096
    assert R.calibration_value(0.0001, 0.1 / 3) & 1 == 0  # FS0 always reads 0
    assert (R.CURRENT_FROM_SHUNT_DIVISOR, R.POWER_FROM_CURRENT_DIVISOR, R.POWER_LSB_PER_CURRENT_LSB) == \
        (4096, 5000, 20)


def test_addresses_span_0x40_to_0x4f():
    assert R.ADDRESSES[0] == 0x40 and R.ADDRESSES[-1] == 0x4F and len(R.ADDRESSES) == 16


def test_shunt_ranges_per_gain_are_the_datasheets():
    assert R.PG_SHUNT_RANGE_MV == {0: 40.0, 1: 80.0, 2: 160.0, 3: 320.0}
