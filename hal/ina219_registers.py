"""The INA219 register map as data, declared once and read by both the driver and the emulated chip.

The INA219 is the current/voltage monitor on the common UPS HATs for the Raspberry Pi Zero (Waveshare's UPS
HAT (C) has it at 0x43 across a 0.1 Ω shunt in the battery lead). Source: Texas Instruments "INA219 Zerø-Drift,
Bidirectional Current/Power Monitor With I2C Interface", SBOS448G (cited as DS, with the section's title).
``tests/hal/test_ina219_registers.py`` pins every number here to the datasheet's literal values.

Registers are 16 bits, sent most significant byte first (DS "Writing to and Reading from the INA219"). A read
returns the register the pointer was last set to; the pointer does not move by itself.
"""
from __future__ import annotations

from typing import Dict

from .registers import Field

# ---- register addresses (DS "Register Maps") ------------------------------------------------------------------
CONFIGURATION = 0x00
SHUNT_VOLTAGE = 0x01
BUS_VOLTAGE = 0x02
POWER = 0x03
CURRENT = 0x04
CALIBRATION = 0x05
REGISTER_COUNT = 6

READ_ONLY_REGISTERS = frozenset([SHUNT_VOLTAGE, BUS_VOLTAGE, POWER, CURRENT])

# ---- reset values (DS "Register Maps": Configuration 0x399F after power-on or RST, the rest 0x0000) ----------------
CONFIGURATION_RESET_VALUE = 0x399F
RESET_VALUES: Dict[int, int] = {CONFIGURATION: CONFIGURATION_RESET_VALUE}

ADDRESSES = tuple(range(0x40, 0x50))
"""A0/A1 pins select 0x40..0x4F (DS "Serial Bus Address")."""

# ---- Configuration fields (DS "Configuration Register") ------------------------------------------------------------
CONFIG_RST = Field(CONFIGURATION, 0x8000, 16)
CONFIG_BRNG = Field(CONFIGURATION, 0x2000, 16)
"""Bus voltage range: 0 = 16 V, 1 = 32 V."""
CONFIG_PG = Field(CONFIGURATION, 0x1800, 16)
"""Shunt PGA gain: 0..3 = /1 (±40 mV), /2 (±80 mV), /4 (±160 mV), /8 (±320 mV)."""
CONFIG_BADC = Field(CONFIGURATION, 0x0780, 16)
CONFIG_SADC = Field(CONFIGURATION, 0x0078, 16)
CONFIG_MODE = Field(CONFIGURATION, 0x0007, 16)

BRNG_32V = 1
PG_SHUNT_RANGE_MV = {0: 40.0, 1: 80.0, 2: 160.0, 3: 320.0}
ADC_12BIT_128_SAMPLES = 0b1111
"""BADC/SADC = 1111: 12-bit, 128 samples averaged, 68.10 ms per conversion (DS "ADC Settings" table)."""
ADC_CONVERSION_S = {0b0011: 0.000532, 0b1111: 0.06810}
"""Conversion time per ADC setting (12-bit: 532 µs; 128 samples averaged: 68.10 ms)."""
MODE_SHUNT_AND_BUS_CONTINUOUS = 0b111

# ---- Bus Voltage register (DS "Bus Voltage Register") --------------------------------------------------------------
BUS_VOLTAGE_BD = Field(BUS_VOLTAGE, 0xFFF8, 16)
BUS_VOLTAGE_CNVR = Field(BUS_VOLTAGE, 0x0002, 16)
"""Conversion ready."""
BUS_VOLTAGE_OVF = Field(BUS_VOLTAGE, 0x0001, 16)
"""Math overflow: the power or current calculation is out of range, so they are meaningless."""
BUS_VOLTAGE_LSB_V = 0.004

# ---- Shunt Voltage, Current, Power, Calibration (DS "Programming the INA219", Equations 1-5) -----------------------
SHUNT_VOLTAGE_LSB_V = 10e-6
"""Signed, two's complement, 10 µV per bit at every PGA setting."""
CALIBRATION_FIELD = Field(CALIBRATION, 0xFFFE, 16)
"""FS0 (bit 0) is void and always reads 0."""
CALIBRATION_SCALE = 0.04096
"""Cal = trunc(0.04096 / (Current_LSB × R_SHUNT)) (Equation 1)."""
CURRENT_FROM_SHUNT_DIVISOR = 4096
"""Current register = Shunt Voltage register × Calibration / 4096 (Equation 4)."""
POWER_LSB_PER_CURRENT_LSB = 20
"""Power_LSB = 20 × Current_LSB (Equation 3)."""
POWER_FROM_CURRENT_DIVISOR = 5000
"""Power register = Current register × Bus Voltage register / 5000 (Equation 5)."""


def calibration_value(current_lsb_a: float, shunt_ohms: float) -> int:
    """The Calibration register value for a current LSB and a shunt (Equation 1), with FS0 cleared."""
    return int(CALIBRATION_SCALE / (current_lsb_a * shunt_ohms)) & CALIBRATION_FIELD.mask


def to_signed16(value: int) -> int:
    return value - 0x10000 if value & 0x8000 else value


REGISTER_NAMES: Dict[int, str] = {CONFIGURATION: "CONFIGURATION", SHUNT_VOLTAGE: "SHUNT_VOLTAGE",
                                  BUS_VOLTAGE: "BUS_VOLTAGE", POWER: "POWER", CURRENT: "CURRENT",
                                  CALIBRATION: "CALIBRATION"}
