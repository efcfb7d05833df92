"""What the battery gauges' drivers share: 16-bit registers sent most significant byte first, every transfer
through the bounded retry (``hal.bus.retry_transfer``) ending in ``GaugeBusError``, and the bus closed only
by the driver that opened it. ``hal.ina219`` and ``hal.max17048`` build on it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

from .bus import BusDevice, I2CBus, errno_text, open_i2c_bus, retry_transfer
from .clock import Clock
from .errors import GaugeBusError, GaugeNotFound, SensorNotFound

GAUGE_WIRING_HINT = ("check that the gauge's board sits firmly on the header or its wires, that I2C is enabled "
                     "('sudo raspi-config nonint do_i2c 0', then reboot) and [power] address ('i2cdetect -y 1' "
                     "lists what answers)")


@dataclass(frozen=True)
class BatteryReading:
    """One look at the battery. ``current_a`` is None for a gauge that does not measure current."""

    voltage_v: float
    current_a: Optional[float]
    percent: float
    charging: bool


class WordRegisterGauge(BusDevice):
    """A gauge chip with 16-bit big-endian registers on an ``I2CBus``; subclasses name the chip and its
    registers (``CHIP``, ``REGISTER_NAMES``) and implement ``read()``."""

    CHIP = "gauge"
    REGISTER_NAMES: Dict[int, str] = {}
    RETRY_PAUSE_S = 0.002

    def __init__(self, bus: I2CBus, address: int, clock: Optional[Clock] = None, *, bus_number: int = 1,
                 bus_retries: int = 3, owns_bus: bool = False) -> None:
        super().__init__(bus, clock, owns_bus=owns_bus)
        self.address = address
        self.bus_number = bus_number
        self._bus_retries = bus_retries

    @classmethod
    def open(cls, bus_number: int = 1, address: Optional[int] = None, **kwargs: Any) -> Any:
        """Open ``/dev/i2c-<bus_number>`` with smbus2 and the chip on it; the driver owns that bus."""
        try:
            bus = open_i2c_bus(bus_number)
        except SensorNotFound as exc:
            reason = getattr(exc.__cause__, "strerror", None) or exc
            raise GaugeNotFound(f"cannot open /dev/i2c-{bus_number} for the {cls.CHIP} ({reason}); enable I2C "
                                f"('sudo raspi-config nonint do_i2c 0', then reboot), or set [power] bus to the "
                                f"bus the gauge is on") from exc
        if address is not None:
            kwargs["address"] = address
        return cls(bus, bus_number=bus_number, owns_bus=True, **kwargs)

    def _where(self, register: int) -> str:
        return (f"battery gauge {self.CHIP} on I2C bus {self.bus_number}, device 0x{self.address:02x}, register "
                f"0x{register:02x} ({self.REGISTER_NAMES.get(register, '?')})")

    def _io(self, register: int, action: Callable[..., Any], *args: Any) -> Any:
        def fail(exc: OSError, attempts: int) -> GaugeBusError:
            return GaugeBusError(f"{self._where(register)}: {errno_text(exc)} after {attempts} attempts; "
                                 f"{GAUGE_WIRING_HINT}")
        return retry_transfer(action, args, retries=self._bus_retries, pause=self._pause_for_retry, fail=fail)

    def _pause_for_retry(self) -> None:
        self.retries += 1
        self._clock.sleep(self.RETRY_PAUSE_S)

    def _read(self, register: int) -> int:
        data: List[int] = self._io(register, self._bus.read_i2c_block_data, self.address, register, 2)
        return (data[0] << 8) | data[1]

    def _write(self, register: int, value: int) -> None:
        self._io(register, self._bus.write_i2c_block_data, self.address, register,
                 [(value >> 8) & 0xFF, value & 0xFF])

    def _not_found(self, exc: GaugeBusError) -> GaugeNotFound:
        return GaugeNotFound(f"no {self.CHIP} answers on I2C bus {self.bus_number} at address 0x{self.address:02x} "
                             f"({exc.__cause__}); {GAUGE_WIRING_HINT}")

    def read(self) -> BatteryReading:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(bus={self.bus_number}, address=0x{self.address:02x})"
