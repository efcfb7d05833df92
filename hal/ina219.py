"""The INA219 battery monitor driver: the battery's voltage and current, and from them charge and charging.

On a Pi Zero UPS HAT the INA219 sits in the battery lead: its bus voltage is the cell's voltage, its shunt
current is positive while the charger fills the cell and negative while the Pi runs from it (Waveshare's UPS
HAT (C) convention; ``charging_sign = -1`` flips it for a board wired the other way round). Charge comes from
the voltage through a LiPo curve (``hal.lipo``).

Every transfer goes through one retry wrapper (bounded, counted in ``retries``) and ends either in a reading
that is plausible or in a typed error from ``hal.errors`` (``GaugeNotFound``, ``GaugeBusError``,
``GaugeReadingError``); the driver never returns garbage. The INA219 has no identity register: a chip that
does not keep the calibration written to it is refused as not an INA219.

Example::

    gauge = Ina219.open(bus_number=1, address=0x43)   # or Ina219(bus, 0x43, clock=clock) on any I2CBus
    reading = gauge.read()      # BatteryReading(voltage_v=3.91, current_a=-0.31, percent=65.0, charging=False)
"""
from __future__ import annotations

from typing import Optional

from . import ina219_registers as R
from . import lipo
from .bus import I2CBus
from .clock import Clock
from .errors import GaugeBusError, GaugeNotFound, GaugeReadingError
from .gauge_base import GAUGE_WIRING_HINT, BatteryReading, WordRegisterGauge

__all__ = ["Ina219", "BatteryReading", "CURRENT_LSB_A"]

#: the current the shunt range allows: ±320 mV across 0.1 Ω is 3.2 A; one bit is 0.1 mA
CURRENT_LSB_A = 0.0001


class Ina219(WordRegisterGauge):
    """The driver. Constructing it resets the chip, configures it and writes the calibration.

    Parameters
    ----------
    bus : I2CBus
        ``smbus2.SMBus`` or ``hal.emulated.EmulatedI2CBus``; closed by :meth:`close` only when opened by
        :meth:`open`.
    address : int
        0x40..0x4F.
    shunt_ohms : float
        The shunt resistor on the board (0.1 Ω on the common HATs).
    charging_threshold_a : float
        Current into the cell above which it counts as charging (the charger's trickle is not).
    charging_sign : int
        +1 when positive current means charging (Waveshare's HATs), -1 for the reverse wiring.
    """

    CHIP = "INA219"
    REGISTER_NAMES = R.REGISTER_NAMES

    def __init__(self, bus: I2CBus, address: int = 0x43, shunt_ohms: float = 0.1, clock: Optional[Clock] = None,
                 *, bus_number: int = 1, bus_retries: int = 3, charging_threshold_a: float = 0.02,
                 charging_sign: int = 1, owns_bus: bool = False) -> None:
        super().__init__(bus, address, clock, bus_number=bus_number, bus_retries=bus_retries, owns_bus=owns_bus)
        self.shunt_ohms = shunt_ohms
        self._charging_threshold_a = charging_threshold_a
        self._charging_sign = 1 if charging_sign >= 0 else -1
        self.calibration = R.calibration_value(CURRENT_LSB_A, shunt_ohms)
        try:
            self._configure()
        except BaseException:
            self.close()
            raise

    # ---- bring-up ----------------------------------------------------------------------------------------------
    def _configure(self) -> None:
        try:
            self._write(R.CONFIGURATION, R.CONFIG_RST.mask)
        except GaugeBusError as exc:
            raise self._not_found(exc) from exc
        config = 0
        for field, value in ((R.CONFIG_BRNG, R.BRNG_32V), (R.CONFIG_PG, 3),
                             (R.CONFIG_BADC, R.ADC_12BIT_128_SAMPLES), (R.CONFIG_SADC, R.ADC_12BIT_128_SAMPLES),
                             (R.CONFIG_MODE, R.MODE_SHUNT_AND_BUS_CONTINUOUS)):
            config = field.put(config, value)
        self._write(R.CONFIGURATION, config)
        self._write(R.CALIBRATION, self.calibration)
        got = (self._read(R.CONFIGURATION), self._read(R.CALIBRATION))
        if got != (config, self.calibration):
            raise GaugeNotFound(f"{self._where(R.CALIBRATION)}: the configuration and calibration read back as "
                                f"0x{got[0]:04x} 0x{got[1]:04x}, not 0x{config:04x} 0x{self.calibration:04x}: this "
                                f"is not an INA219, or it does not keep what is written; {GAUGE_WIRING_HINT}")

    # ---- reading -----------------------------------------------------------------------------------------------
    def read(self) -> BatteryReading:
        """The battery now. Raises ``GaugeReadingError`` for a reading that cannot be right."""
        bus_raw = self._read(R.BUS_VOLTAGE)
        current_raw = R.to_signed16(self._read(R.CURRENT))
        if not R.BUS_VOLTAGE_CNVR.get(bus_raw) and not R.BUS_VOLTAGE_BD.get(bus_raw):
            raise GaugeReadingError(f"{self._where(R.BUS_VOLTAGE)}: no conversion has finished yet (it takes "
                                    f"{2 * R.ADC_CONVERSION_S[R.ADC_12BIT_128_SAMPLES] * 1000:.0f} ms after "
                                    f"configuring); read again")
        if R.BUS_VOLTAGE_OVF.get(bus_raw):
            raise GaugeReadingError(f"{self._where(R.BUS_VOLTAGE)}: math overflow (OVF): the current is beyond "
                                    f"the shunt's range; check [power] shunt_ohms ({self.shunt_ohms} Ω)")
        voltage_v = R.BUS_VOLTAGE_BD.get(bus_raw) * R.BUS_VOLTAGE_LSB_V
        low_v, high_v = lipo.PLAUSIBLE_V
        if not low_v <= voltage_v <= high_v:
            raise GaugeReadingError(f"{self._where(R.BUS_VOLTAGE)}: {voltage_v:.3f} V is no LiPo cell's voltage "
                                    f"({low_v}-{high_v} V): is the battery connected, and is the INA219 on the "
                                    f"battery lead?")
        current_a = current_raw * CURRENT_LSB_A
        charging = self._charging_sign * current_a > self._charging_threshold_a
        return BatteryReading(round(voltage_v, 3), round(current_a, 4), round(lipo.percent_from_voltage(voltage_v), 1),
                              charging)
