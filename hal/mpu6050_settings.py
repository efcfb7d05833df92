"""``[sensor]`` settings of the MPU-6050: validated once, frozen, with messages that say what is allowed."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Tuple

from . import mpu6050_registers as R

__all__ = ["SensorSettings", "parse_axes_map"]


def _allowed(values: Any) -> str:
    items = [str(v) for v in values]
    return ", ".join(items[:-1]) + " or " + items[-1]


def parse_axes_map(text: str) -> Tuple[Tuple[int, int, int], Tuple[float, float, float]]:
    """Klipper-style ``axes_map`` ("x,y,z", "-z,y,x"): output axis i = sign_i * chip axis index_i."""
    parts = [p.strip().lower() for p in str(text).split(",")]
    names = [p.lstrip("-") for p in parts]
    if len(parts) != 3 or sorted(names) != ["x", "y", "z"] or any(p.count("-") > 1 for p in parts):
        raise ValueError(f"axes_map = {text!r} is not allowed; name each chip axis x, y, z once, optionally "
                         f"with a minus sign, e.g. \"x,y,z\" or \"-z,y,x\"")
    index = tuple("xyz".index(n) for n in names)
    sign = tuple(-1.0 if p.startswith("-") else 1.0 for p in parts)
    return index, sign  # type: ignore[return-value]


@dataclass(frozen=True)
class SensorSettings:
    """How the MPU-6050 is wired and configured ([sensor] in retrowalk.toml).

    Attributes
    ----------
    bus : int
        I2C bus number (``/dev/i2c-<bus>``; 1 on a Raspberry Pi's pins 3 and 5).
    address : int
        0x68 with AD0 low (most GY-521 boards), 0x69 with AD0 high.
    sample_rate_hz : int
        Output data rate. The chip divides 1 kHz (8 kHz with the DLPF off, ``dlpf_hz = 260``) by a whole
        number from 1 to 256, and the accelerometer updates at 1 kHz at most; 200 Hz suits walking and falls.
    accel_range_g : int
        Accelerometer full scale: ±2, 4, 8 or 16 g. Falls peak well above 2 g; ±16 g keeps impacts from
        saturating.
    gyro_range_dps : int
        Gyro full scale: ±250, 500, 1000 or 2000 °/s. A stumble swings the trunk at ~160 °/s and a fall faster;
        ±2000 °/s keeps both from saturating. Detection reads it too: a sample at it is overrange, and the tilt
        is re-learned from the accelerometer.
    dlpf_hz : int
        Digital low-pass filter bandwidth in Hz: 260 (off), 184, 94, 44, 21, 10 or 5 (RM §4.3). Keep it below
        half the sample rate.
    axes_map : str
        How the chip's axes map to the sensor axes reported, Klipper-style, e.g. ``"-z,y,x"``.
    bus_retries : int
        How many times a failed transfer is retried before ``SensorBusError``.
    """

    bus: int = 1
    address: int = 0x68
    sample_rate_hz: int = 200
    accel_range_g: int = 16
    gyro_range_dps: int = 2000
    dlpf_hz: int = 44
    axes_map: str = "x,y,z"
    bus_retries: int = 3

    def __post_init__(self) -> None:
        if not isinstance(self.bus, int) or self.bus < 0:
            raise ValueError(f"bus = {self.bus!r} is not allowed; use the I2C bus number, 1 on a Raspberry Pi")
        if self.address not in R.ADDRESSES:
            raise ValueError(f"address = {self.address!r} is not allowed; use 0x68 (104, AD0 low) or "
                             f"0x69 (105, AD0 high)")
        if self.accel_range_g not in R.ACCEL_RANGES_G:
            raise ValueError(f"accel_range_g = {self.accel_range_g!r} is not allowed; use {_allowed(R.ACCEL_RANGES_G)}")
        if self.gyro_range_dps not in R.GYRO_RANGES_DPS:
            raise ValueError(f"gyro_range_dps = {self.gyro_range_dps!r} is not allowed; use "
                             f"{_allowed(R.GYRO_RANGES_DPS)}")
        if self.dlpf_hz not in R.DLPF_BANDWIDTHS_HZ:
            raise ValueError(f"dlpf_hz = {self.dlpf_hz!r} is not allowed; use {_allowed(R.DLPF_BANDWIDTHS_HZ)} "
                             f"(260 turns the filter off)")
        base_hz = R.gyro_output_rate_hz(self.dlpf_code)
        divider = base_hz / self.sample_rate_hz if self.sample_rate_hz > 0 else 0.0
        if not (0 < self.sample_rate_hz <= R.ACCEL_MAX_OUTPUT_RATE_HZ and abs(divider - round(divider)) < 1e-9
                and 1 <= round(divider) <= 256):
            examples = [r for r in (1000, 500, 250, 200, 125, 100, 50, 40, 25) if (base_hz / r) % 1 == 0]
            raise ValueError(f"sample_rate_hz = {self.sample_rate_hz!r} is not allowed with dlpf_hz = "
                             f"{self.dlpf_hz}: the chip divides {base_hz} Hz by a whole number from 1 to 256 and "
                             f"reads the accelerometer at 1000 Hz at most; use e.g. {_allowed(examples)}")
        parse_axes_map(self.axes_map)
        if not isinstance(self.bus_retries, int) or not 0 <= self.bus_retries <= 20:
            raise ValueError(f"bus_retries = {self.bus_retries!r} is not allowed; use 0 to 20")

    @property
    def dlpf_code(self) -> int:
        return R.DLPF_BANDWIDTHS_HZ[self.dlpf_hz]

    @property
    def smplrt_div(self) -> int:
        return int(round(R.gyro_output_rate_hz(self.dlpf_code) / self.sample_rate_hz)) - 1
