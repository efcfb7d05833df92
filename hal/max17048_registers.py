"""The MAX17048 fuel gauge's register map as data, read by both the driver and the emulated chip.

The MAX17048 (Analog Devices/Maxim, datasheet "MAX17048/MAX17049 3µA 1-Cell/2-Cell Fuel Gauge with ModelGauge",
cited as DS) sits on single-cell LiPo boards at the fixed address 0x36 and computes the state of charge itself
(ModelGauge), so no voltage curve is needed. Registers are 16 bits, most significant byte first.
``tests/hal/test_max17048_registers.py`` pins these numbers to the datasheet.
"""
from __future__ import annotations

from typing import Dict

from .registers import Field

ADDRESS = 0x36

# ---- registers (DS "Register Summary") ------------------------------------------------------------------------
VCELL = 0x02
SOC = 0x04
MODE = 0x06
VERSION = 0x08
HIBRT = 0x0A
CONFIG = 0x0C
VALRT = 0x14
CRATE = 0x16
VRESET_ID = 0x18
STATUS = 0x1A
CMD = 0xFE

READ_ONLY_REGISTERS = frozenset([VCELL, SOC, VERSION, CRATE])

VCELL_LSB_V = 78.125e-6
"""One cell: 78.125 µV per bit."""
SOC_LSB_PERCENT = 1.0 / 256.0
"""The high byte is whole percent, the low byte 1/256 %."""
CRATE_LSB_PERCENT_PER_H = 0.208
"""Signed: the charge (+) or discharge (-) rate, 0.208 %/hour per bit."""
VERSION_FAMILY = Field(VERSION, 0xFFF0, 16)
VERSION_FAMILY_VALUE = 0x001
"""VERSION reads 0x001_ on the MAX17048/MAX17049 (the last digit is the revision)."""
CONFIG_RESET_VALUE = 0x971C
"""RCOMP 0x97, ALRT threshold 4 % (0x1C)."""
RESET_VALUES: Dict[int, int] = {CONFIG: CONFIG_RESET_VALUE}
"""The registers the emulated chip starts with a value (the others read 0 there until written)."""

REGISTER_NAMES: Dict[int, str] = {VCELL: "VCELL", SOC: "SOC", MODE: "MODE", VERSION: "VERSION", HIBRT: "HIBRT",
                                  CONFIG: "CONFIG", VALRT: "VALRT", CRATE: "CRATE", VRESET_ID: "VRESET/ID",
                                  STATUS: "STATUS", CMD: "CMD"}
