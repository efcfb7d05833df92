"""Hardware abstraction: the MPU-6050 over I2C, GPIO outputs/inputs, clocks. Knows nothing of walking."""
from .clock import Clock, FakeClock, MonotonicClock
from .errors import (HardwareError, RetrowalkError, SensorBusError, SensorIdentityError,
                     SensorNotFound, SensorTimeout)
from .types import SampleBlock

__all__ = [
    "Clock", "FakeClock", "MonotonicClock", "HardwareError", "RetrowalkError", "SensorBusError",
    "SensorIdentityError", "SensorNotFound", "SensorTimeout", "SampleBlock",
]
