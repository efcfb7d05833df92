"""The project's error tree. The root lives here, in the lowest layer, so the HAL and the firmware share it.

Like gpiozero's exc.py, specific errors also inherit the builtin they resemble, so callers that catch
``OSError`` or ``ValueError`` keep working.
"""
from __future__ import annotations

from typing import Optional


class RetrowalkError(Exception):
    """Root of every error retrowalk raises on purpose."""


class HardwareError(RetrowalkError):
    """Something below the HAL did not behave."""


class SensorNotFound(HardwareError, OSError):
    """No device answers at the configured bus and address (or the bus device node is missing)."""


class SensorIdentityError(HardwareError, ValueError):
    """A device answers, but it is not an MPU-6050 (WHO_AM_I mismatch). A restart cannot fix this."""


class SensorBusError(HardwareError, OSError):
    """I2C transfers kept failing after the bounded retries.

    Carries where it happened, so the message can be acted upon.
    """

    def __init__(self, message: str, *, bus: Optional[int] = None, address: Optional[int] = None,
                 register: Optional[int] = None, errno_: Optional[int] = None) -> None:
        super().__init__(message)
        self.bus = bus
        self.address = address
        self.register = register
        self.errno_ = errno_


class SensorTimeout(HardwareError, TimeoutError):
    """The chip did not finish something (reset, self-test) before its deadline."""


class GaugeError(HardwareError):
    """The battery gauge (``[power] gauge``) did not behave; the monitor keeps running without it."""


class GaugeNotFound(GaugeError, OSError):
    """Nothing answers at the gauge's bus and address (or the bus device node is missing)."""


class GaugeBusError(GaugeError, OSError):
    """Transfers to the gauge kept failing after the bounded retries."""


class GaugeReadingError(GaugeError, ValueError):
    """The gauge answered with a reading that cannot be right (math overflow, a voltage no LiPo cell has)."""
