"""Is it an MPU-6050 that answers, and what to tell the person at the Pi when it is not.

The driver's errors and ``retrowalk selftest``'s checklist both say it in these words, so a fix learnt from
one is the fix the other gives. WHO_AM_I holds the upper six bits of the chip's I2C address, 0x68 whatever
AD0 is (RM-MPU-6000A rev 4.2 §4.32); its relatives answer on the same addresses with other values.
"""
from __future__ import annotations

from typing import Optional

from . import mpu6050_registers as R
from .errors import SensorIdentityError

__all__ = ["WHO_AM_I_VALUE", "IDENTITY_FIX", "wiring_hint", "identity_problem", "check_identity"]

WHO_AM_I_VALUE = R.WHO_AM_I_VALUE
"""What WHO_AM_I (0x75) reads on an MPU-6050."""

IDENTITY_FIX = ("set [sensor] address to where the MPU-6050 is (AD0 low = 0x68, high = 0x69), enable I2C with "
                "'sudo raspi-config nonint do_i2c 0', check the wiring (SDA pin 3, SCL pin 5, VCC 3.3 V on pin 1, "
                "GND pin 6), or use an MPU-6050 board")
"""What to do when something answers but is not an MPU-6050."""


def wiring_hint(bus: int) -> str:
    """What to check when the chip does not answer, or stops answering, on I2C bus ``bus``."""
    return ("check the wiring (SDA to pin 3, SCL to pin 5, VCC to 3.3 V on pin 1, GND to pin 6), that I2C is "
            "enabled ('sudo raspi-config nonint do_i2c 0', then reboot) and the address: AD0 low is 0x68, "
            f"AD0 high is 0x69 ('i2cdetect -y {bus}' lists what answers)")


def identity_problem(who_am_i: int) -> Optional[str]:
    """None when ``who_am_i`` is an MPU-6050's; otherwise what the value read says about the chip."""
    if who_am_i == WHO_AM_I_VALUE:
        return None
    return (f"WHO_AM_I reads 0x{who_am_i:02x}, expected 0x{WHO_AM_I_VALUE:02x} for an MPU-6050 (0x70 is an "
            f"MPU-6500, 0x71 an MPU-9250; 0x00 or 0xff usually means a wiring or pull-up fault)")


def check_identity(who_am_i: int, bus: int, address: int) -> None:
    """Raise ``SensorIdentityError`` (bus, address, value read, fixes) unless ``who_am_i`` is an MPU-6050's."""
    problem = identity_problem(who_am_i)
    if problem is not None:
        raise SensorIdentityError(f"I2C bus {bus}, address 0x{address:02x}: {problem}. Fixes: {IDENTITY_FIX}")
