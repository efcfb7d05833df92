"""Emulated battery gauges on an emulated LiPo battery, behind ``EmulatedI2CBus`` like the emulated MPU-6050:
the INA219 (volts and amps; charge through the LiPo curve in the driver) and the MAX17048 fuel gauge (volts,
charge and charge rate from the chip).

The INA219: six 16-bit registers with the datasheet's reset values, RST, the void calibration bit, read-only
result registers, and results computed as the datasheet's equations compute them from the shunt voltage, the
bus voltage and the calibration (a chip without calibration reads 0 A, as a real one does). The register
numbers come from ``hal.ina219_registers`` and ``hal.max17048_registers``, never from a second table here.
The MAX17048: VCELL, SOC and CRATE from the battery, VERSION 0x0012, CONFIG's reset value, read-only registers.

The battery: charge falling at ``drain_percent_per_s`` from ``start_percent`` (faster than life in tests),
its voltage from the LiPo curve (``hal.lipo``), the Pi's load drawn from it, or the charger filling it inside
``charging_windows_s``. Faults: ``FaultPlan``'s vanish and NACK windows, and ``overflow_windows_s`` in which
the chip flags a math overflow (a bad reading). Times are seconds since the chip was created.

Example::

    clock = FakeClock()
    gauge_chip = EmulatedIna219(clock, EmulatedBattery(start_percent=50, drain_percent_per_s=0.1))
    bus = EmulatedI2CBus({0x43: gauge_chip})
    Ina219(bus, 0x43, clock=clock).read()     # the real driver
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from . import ina219_registers as R
from . import lipo
from . import max17048_registers as M
from .clock import Clock
from .emulated_bus import nack
from .emulated_faults import FaultPlan, Window, parse_windows

__all__ = ["EmulatedBattery", "EmulatedIna219", "EmulatedMax17048"]


@dataclass(frozen=True)
class EmulatedBattery:
    """A LiPo cell as the INA219 on a UPS HAT sees it (all synthetic)."""

    start_percent: float = 80.0
    drain_percent_per_s: float = 0.0
    load_current_a: float = 0.35
    charge_current_a: float = 0.8
    charging_windows_s: Tuple[Window, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.start_percent <= 100:
            raise ValueError(f"start_percent = {self.start_percent} is not allowed; use 0 to 100")
        if self.drain_percent_per_s < 0:
            raise ValueError(f"drain_percent_per_s = {self.drain_percent_per_s} is not allowed; use 0 or more")
        object.__setattr__(self, "charging_windows_s", parse_windows("charging_windows_s", self.charging_windows_s))

    def is_charging(self, t_s: float) -> bool:
        return any(start <= t_s < end for start, end in self.charging_windows_s)

    def percent(self, t_s: float) -> float:
        """State of charge at chip time ``t_s``."""
        return min(100.0, max(0.0, self.start_percent - self.drain_percent_per_s * t_s))

    def state(self, t_s: float) -> Tuple[float, float]:
        """(cell voltage, current into the cell: negative while the Pi runs from it) at chip time ``t_s``."""
        voltage_v = lipo.voltage_from_percent(self.percent(t_s))
        if self.is_charging(t_s):  # the charger lifts the terminal voltage above the resting one
            return min(4.2, voltage_v + 0.05), self.charge_current_a
        return voltage_v, -self.load_current_a


class _EmulatedWordChip:
    """A chip of 16-bit registers behind a register pointer (MSB first), on a battery, with faults."""

    RESET_VALUES: Dict[int, int] = {}

    def __init__(self, clock: Clock, battery: Optional[EmulatedBattery] = None,
                 faults: Optional[FaultPlan] = None) -> None:
        self._clock = clock
        self._t0_s = clock.monotonic()
        self.battery = battery if battery is not None else EmulatedBattery()
        self._faults = faults if faults is not None else FaultPlan()
        self.nacks = 0
        self._power_on()

    def _power_on(self) -> None:
        self._regs: Dict[int, int] = dict(self.RESET_VALUES)
        self._pointer = 0

    def now_s(self) -> float:
        return self._clock.monotonic() - self._t0_s

    def _register_value(self, register: int) -> int:
        raise NotImplementedError

    def _write_register(self, register: int, value: int) -> None:
        raise NotImplementedError

    # ---- the bus side ------------------------------------------------------------------------------------------
    def begin_transfer(self) -> None:
        now_s = self.now_s()
        if self._faults.refuses(now_s):
            self.nacks += 1
            raise nack()

    def read(self, register: Optional[int], length: int) -> bytes:
        if register is not None:
            self._pointer = register
        value = self._register_value(self._pointer)
        word = bytes([(value >> 8) & 0xFF, value & 0xFF])
        return (word * ((length + 1) // 2))[:length]  # the pointer stays: longer reads repeat the register

    def write(self, data: bytes) -> None:
        if not data:
            return
        self._pointer = data[0]
        if len(data) >= 3:
            self._write_register(data[0], (data[1] << 8) | data[2])



class EmulatedIna219(_EmulatedWordChip):
    """One emulated INA219 (see the module docstring)."""

    RESET_VALUES = dict.fromkeys(range(R.REGISTER_COUNT), 0) | R.RESET_VALUES

    def __init__(self, clock: Clock, battery: Optional[EmulatedBattery] = None, shunt_ohms: float = 0.1,
                 faults: Optional[FaultPlan] = None, overflow_windows_s: Tuple[Window, ...] = ()) -> None:
        self.shunt_ohms = shunt_ohms
        self._overflow_windows_s = parse_windows("overflow_windows_s", overflow_windows_s)
        super().__init__(clock, battery, faults)

    def _power_on(self) -> None:
        super()._power_on()
        self._restart_conversions()

    def _restart_conversions(self) -> None:
        # a configuration write starts over: results (and CNVR) only after one shunt and one bus conversion
        config = self._regs[R.CONFIGURATION]
        self._results_from_s = self.now_s() + sum(R.ADC_CONVERSION_S.get(field.get(config), 0.0685)
                                                  for field in (R.CONFIG_BADC, R.CONFIG_SADC))

    def _write_register(self, register: int, value: int) -> None:
        if register >= R.REGISTER_COUNT or register in R.READ_ONLY_REGISTERS:
            return
        if register == R.CONFIGURATION and value & R.CONFIG_RST.mask:
            self._power_on()  # RST: every register back to its reset value; the bit clears itself
            return
        if register == R.CALIBRATION:
            value &= R.CALIBRATION_FIELD.mask
        self._regs[register] = value & 0xFFFF
        if register == R.CONFIGURATION:
            self._restart_conversions()

    def _register_value(self, register: int) -> int:
        if register >= R.REGISTER_COUNT:
            return 0
        if register not in R.READ_ONLY_REGISTERS:
            return self._regs[register]
        now_s = self.now_s()
        if now_s < self._results_from_s:
            return 0  # no conversion has finished: every result reads 0, CNVR too
        voltage_v, current_a = self.battery.state(now_s)
        shunt = int(round(current_a * self.shunt_ohms / R.SHUNT_VOLTAGE_LSB_V))
        limit = int(R.PG_SHUNT_RANGE_MV[R.CONFIG_PG.get(self._regs[R.CONFIGURATION])] / 1000
                    / R.SHUNT_VOLTAGE_LSB_V)
        shunt = max(-limit, min(limit, shunt))
        bus = R.BUS_VOLTAGE_BD.put(0, int(round(voltage_v / R.BUS_VOLTAGE_LSB_V)))
        bus = R.BUS_VOLTAGE_CNVR.put(bus, 1)
        if any(start <= now_s < end for start, end in self._overflow_windows_s):
            bus = R.BUS_VOLTAGE_OVF.put(bus, 1)
        current = int(shunt * self._regs[R.CALIBRATION] / R.CURRENT_FROM_SHUNT_DIVISOR)
        power = abs(current) * R.BUS_VOLTAGE_BD.get(bus) // R.POWER_FROM_CURRENT_DIVISOR
        values = {R.SHUNT_VOLTAGE: shunt, R.BUS_VOLTAGE: bus, R.CURRENT: current, R.POWER: power}
        return values[register] & 0xFFFF


class EmulatedMax17048(_EmulatedWordChip):
    """One emulated MAX17048 (see the module docstring); ``version`` 0x0012 unless told otherwise."""

    RESET_VALUES = M.RESET_VALUES

    def __init__(self, clock: Clock, battery: Optional[EmulatedBattery] = None, faults: Optional[FaultPlan] = None,
                 version: int = 0x0012) -> None:
        self.version = version
        super().__init__(clock, battery, faults)

    def _write_register(self, register: int, value: int) -> None:
        if register not in M.READ_ONLY_REGISTERS:
            self._regs[register] = value & 0xFFFF

    def _register_value(self, register: int) -> int:
        t_s = self.now_s()
        if register == M.VERSION:
            return self.version
        if register == M.VCELL:
            return int(round(self.battery.state(t_s)[0] / M.VCELL_LSB_V)) & 0xFFFF
        if register == M.SOC:
            return int(round(self.battery.percent(t_s) / M.SOC_LSB_PERCENT)) & 0xFFFF
        if register == M.CRATE:
            rate = (1.0 if self.battery.is_charging(t_s) else -1.0) * self.battery.drain_percent_per_s * 3600.0
            if self.battery.is_charging(t_s):
                rate = max(rate, 20.0)  # the charger's fill rate
            return int(round(rate / M.CRATE_LSB_PERCENT_PER_H)) & 0xFFFF
        return self._regs.get(register, 0)
