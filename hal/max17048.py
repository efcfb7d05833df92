"""The MAX17048 fuel gauge driver: the cell's voltage, its state of charge as the chip computes it (ModelGauge)
and its charge rate, from which charging follows (the chip measures no current).

Every transfer goes through the gauges' shared retry (``hal.gauge_base``); a chip whose VERSION is not
0x001_ is refused as not a MAX17048; a voltage no LiPo cell has is ``GaugeReadingError``.

Example::

    gauge = Max17048.open(bus_number=1)     # the MAX17048 is always at 0x36
    gauge.read()                            # BatteryReading(voltage_v=3.87, current_a=None, percent=61.2, ...)
"""
from __future__ import annotations

from typing import Optional

from . import lipo
from . import max17048_registers as R
from .bus import I2CBus
from .clock import Clock
from .errors import GaugeBusError, GaugeNotFound, GaugeReadingError
from .gauge_base import GAUGE_WIRING_HINT, BatteryReading, WordRegisterGauge
from .ina219_registers import to_signed16

__all__ = ["Max17048"]


class Max17048(WordRegisterGauge):
    """The driver. Constructing it checks VERSION.

    Parameters
    ----------
    charging_rate_percent_per_h : float
        A charge rate (CRATE) above this counts as charging.
    """

    CHIP = "MAX17048"
    REGISTER_NAMES = R.REGISTER_NAMES

    def __init__(self, bus: I2CBus, address: int = R.ADDRESS, clock: Optional[Clock] = None, *,
                 bus_number: int = 1, bus_retries: int = 3, charging_rate_percent_per_h: float = 1.0,
                 owns_bus: bool = False) -> None:
        super().__init__(bus, address, clock, bus_number=bus_number, bus_retries=bus_retries, owns_bus=owns_bus)
        self._charging_rate = charging_rate_percent_per_h
        try:
            try:
                version = self._read(R.VERSION)
            except GaugeBusError as exc:
                raise self._not_found(exc) from exc
            if R.VERSION_FAMILY.get(version) != R.VERSION_FAMILY_VALUE:
                raise GaugeNotFound(f"{self._where(R.VERSION)}: VERSION reads 0x{version:04x}, a MAX17048 reads "
                                    f"0x001_: this is not a MAX17048; {GAUGE_WIRING_HINT}")
        except BaseException:
            self.close()
            raise

    def read(self) -> BatteryReading:
        voltage_v = self._read(R.VCELL) * R.VCELL_LSB_V
        percent = self._read(R.SOC) * R.SOC_LSB_PERCENT
        rate = to_signed16(self._read(R.CRATE)) * R.CRATE_LSB_PERCENT_PER_H
        low_v, high_v = lipo.PLAUSIBLE_V
        if not low_v <= voltage_v <= high_v:
            raise GaugeReadingError(f"{self._where(R.VCELL)}: {voltage_v:.3f} V is no LiPo cell's voltage "
                                    f"({low_v}-{high_v} V): is the cell connected to the gauge?")
        return BatteryReading(round(voltage_v, 3), None, round(min(percent, 100.0), 1), rate > self._charging_rate)
