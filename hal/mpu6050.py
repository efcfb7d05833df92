"""The MPU-6050 driver: probe, reset, configure, drain the FIFO into ``SampleBlock``s in g and °/s.

Raw counts become physical units here and nowhere else. Every transfer goes through one retry wrapper
(bounded and counted in ``retries``) and ends either in data that is known to be aligned or in a typed
error from ``hal.errors``; the driver never returns garbage.

Example::

    sensor = Mpu6050.open(SensorSettings(sample_rate_hz=200), MonotonicClock())
    block = sensor.read()            # everything the FIFO buffered since the last read
    block.accel_g, block.gyro_dps    # (n, 3) arrays; block.t_s reconstructed from the output data rate

Register numbers and fields come from ``hal.mpu6050_registers`` (RM-MPU-6000A rev 4.2), sample times from
``hal.mpu6050_timeline``, the WHO_AM_I check and the wiring advice from ``hal.mpu6050_identity``.
"""
from __future__ import annotations

import errno
import math
import os
from typing import Any, Dict, Optional, Tuple

import numpy as np

from . import mpu6050_registers as R
from .bus import BusDevice, I2CBus, errno_text, i2c_msg, open_i2c_bus, retry_transfer
from .clock import Clock
from .errors import SensorBusError, SensorNotFound, SensorTimeout
from .mpu6050_identity import check_identity, wiring_hint
from .mpu6050_selftest import AxisSelfTest, SelfTestResult, axis_result
from .mpu6050_settings import SensorSettings, parse_axes_map
from .mpu6050_timeline import SampleTimeline
from .types import SampleBlock

__all__ = ["SensorSettings", "Mpu6050", "SelfTestResult", "AxisSelfTest", "parse_axes_map"]


class _FifoDisturbed(Exception):
    """A FIFO read failed part-way: how many bytes left the FIFO is unknown, so alignment is lost."""


class Mpu6050(BusDevice):
    """The driver. Constructing it probes, resets and configures the chip and starts the FIFO.

    Parameters
    ----------
    bus : I2CBus
        ``smbus2.SMBus`` or ``hal.emulated.EmulatedI2CBus``. Closed by :meth:`close` only when this driver
        opened it (:meth:`open`).
    settings : SensorSettings
    clock : Clock
        Anchors sample timestamps and paces the reset and self-test waits.

    Raises
    ------
    SensorNotFound
        Nothing acknowledges at the address.
    SensorIdentityError
        Something answers but WHO_AM_I is not 0x68.
    SensorBusError, SensorTimeout
        Transfers keep failing, or the reset never completes.

    Attributes
    ----------
    retries : int
        Transfers retried after an ``OSError`` (each one a glitch the caller never saw).
    overflows : int
        FIFO overflows recovered from (each reported as ``lost_samples``).
    """

    RESET_TIMEOUT_S = 0.5
    POLL_STEP_S = 0.005
    RETRY_PAUSE_S = 0.002
    TEMP_REFRESH_S = 1.0
    MAX_TRANSFER_BYTES = 8184  # i2c-dev refuses messages over 8192 bytes; a multiple of the 12-byte frame
    SELF_TEST_SETTLE_S = 0.05
    SELF_TEST_SAMPLES = 20

    def __init__(self, bus: I2CBus, settings: Optional[SensorSettings] = None, clock: Optional[Clock] = None,
                 *, owns_bus: bool = False) -> None:
        super().__init__(bus, clock, owns_bus=owns_bus)
        self.settings = settings if settings is not None else SensorSettings()
        self.overflows = 0
        axes_index, axes_sign = parse_axes_map(self.settings.axes_map)
        self._axes_index = np.array(axes_index)
        self._axes_sign = np.array(axes_sign)
        self._accel_scale = 1.0 / R.ACCEL_LSB_PER_G[self.settings.accel_range_g]
        self._gyro_scale = 1.0 / R.GYRO_LSB_PER_DPS[self.settings.gyro_range_dps]
        # the FIFO decode's columns and factors for both sensors at once, worked out once instead of on
        # every read (the same products: each value is one raw count times its axis's scale and sign)
        self._fifo_columns = np.concatenate((self._axes_index, 3 + self._axes_index))
        self._fifo_factors = np.concatenate((self._accel_scale * self._axes_sign,
                                             self._gyro_scale * self._axes_sign))
        # (register, length) -> the write of its pointer and the read after it, made once and reused: ctypes
        # buffers on every read cost more than the transfer (the bus only reads the one, fills the other,
        # and the bytes are copied out before the next transfer)
        self._messages: Dict[Tuple[int, int], Tuple[Any, Any]] = {}
        self._rate_hz = float(R.sample_rate_hz(self.settings.dlpf_code, self.settings.smplrt_div))
        self._timeline = SampleTimeline(self._rate_hz)
        self._wiring_hint = wiring_hint(self.settings.bus)
        self._recovery: Optional[str] = None
        self._pending_lost = 0
        self._temp_c = float("nan")
        self._temp_read_at_s = -math.inf
        try:
            self._probe()
            self.reset()
            self._configure()
            self._start_fifo()
        except BaseException:
            self.close()
            raise

    @classmethod
    def open(cls, settings: Optional[SensorSettings] = None, clock: Optional[Clock] = None) -> "Mpu6050":
        """Open ``/dev/i2c-<settings.bus>`` with smbus2 and the chip on it; the driver owns that bus."""
        settings = settings if settings is not None else SensorSettings()
        return cls(open_i2c_bus(settings.bus), settings, clock, owns_bus=True)

    @property
    def sample_rate_hz(self) -> float:
        return self._rate_hz

    # ---- transfers ---------------------------------------------------------------------------------------------
    def _where(self, register: int) -> str:
        name = R.REGISTER_NAMES.get(register, "?")
        return f"I2C bus {self.settings.bus}, device 0x{self.settings.address:02x}, register 0x{register:02x} ({name})"

    def _io(self, register: int, action: Any, *args: Any, retry_errnos: Optional[Tuple[int, ...]] = None) -> Any:
        """Run one transfer, retrying ``OSError`` a bounded number of times, then raise ``SensorBusError``."""
        def fail(exc: OSError, attempts: int) -> SensorBusError:
            return SensorBusError(f"{self._where(register)}: {errno_text(exc)} after {attempts} attempts; "
                                  f"{self._wiring_hint}", bus=self.settings.bus, address=self.settings.address,
                                  register=register, errno_=exc.errno)
        return retry_transfer(action, args, retries=self.settings.bus_retries, pause=self._pause_for_retry,
                              fail=fail, retry_errnos=retry_errnos)

    def _pause_for_retry(self) -> None:
        self.retries += 1
        self._clock.sleep(self.RETRY_PAUSE_S)

    def _rdwr_read(self, register: int, length: int) -> bytes:
        messages = self._messages.get((register, length))
        if messages is None:
            messages = self._messages[register, length] = (i2c_msg.write(self.settings.address, [register]),
                                                           i2c_msg.read(self.settings.address, length))
        write, read = messages
        self._bus.i2c_rdwr(write, read)
        return bytes(read)

    def _read(self, register: int, length: int = 1) -> bytes:
        return self._io(register, self._rdwr_read, register, length)

    def _write(self, register: int, value: int) -> None:
        self._io(register, self._bus.write_byte_data, self.settings.address, register, value & 0xFF)

    def _update(self, *changes: Tuple[R.Field, int]) -> None:
        """Read-modify-write of fields that share one register (the only place a field is written)."""
        register = changes[0][0].register
        if any(f.register != register for f, _ in changes):
            raise ValueError("one _update writes fields of one register")
        value = self._read(register)[0]
        for field, field_value in changes:
            value = field.put(value, field_value)
        self._write(register, value)

    # ---- bring-up ----------------------------------------------------------------------------------------------
    def _probe(self) -> None:
        try:
            who_am_i = self._read(R.WHO_AM_I)[0]
        except SensorBusError as exc:
            raise SensorNotFound(
                f"no MPU-6050 answers on I2C bus {self.settings.bus} at address 0x{self.settings.address:02x} "
                f"({os.strerror(exc.errno_) if exc.errno_ else exc}); {self._wiring_hint}") from exc
        check_identity(who_am_i, self.settings.bus, self.settings.address)

    def _wait_until_clear(self, field: R.Field, what: str) -> None:
        """Poll ``field`` against the injected clock until it reads 0, or raise ``SensorTimeout``."""
        deadline_s = self._clock.monotonic() + self.RESET_TIMEOUT_S
        while True:
            self._clock.sleep(self.POLL_STEP_S)
            if not field.get(self._read(field.register)[0]):
                return
            if self._clock.monotonic() >= deadline_s:
                raise SensorTimeout(f"{self._where(field.register)}: {what} did not finish within "
                                    f"{self.RESET_TIMEOUT_S} s; power-cycle the sensor (unplug VCC) and "
                                    f"{self._wiring_hint}")

    def reset(self) -> None:
        """DEVICE_RESET, wait for it to self-clear, then reset the signal paths (RM §4.26, §4.28)."""
        self._write(R.PWR_MGMT_1, R.PWR_MGMT_1_DEVICE_RESET.mask)
        self._wait_until_clear(R.PWR_MGMT_1_DEVICE_RESET, "the device reset")
        self._write(R.SIGNAL_PATH_RESET, R.SIGNAL_PATH_RESET_GYRO.mask | R.SIGNAL_PATH_RESET_ACCEL.mask |
                    R.SIGNAL_PATH_RESET_TEMP.mask)

    def _configure(self) -> None:
        s = self.settings
        # Out of sleep, clocked from the X gyro's PLL: more stable than the internal 8 MHz oscillator (RM §4.28).
        self._update((R.PWR_MGMT_1_SLEEP, 0), (R.PWR_MGMT_1_CLKSEL, R.CLKSEL_PLL_X_GYRO))
        self._update((R.CONFIG_DLPF_CFG, s.dlpf_code))
        self._write(R.SMPLRT_DIV, s.smplrt_div)
        # Whole registers: the self-test bits in them must be off whatever state the chip was left in.
        self._write(R.GYRO_CONFIG, R.GYRO_CONFIG_FS_SEL.put(0, R.GYRO_RANGES_DPS[s.gyro_range_dps]))
        self._write(R.ACCEL_CONFIG, R.ACCEL_CONFIG_AFS_SEL.put(0, R.ACCEL_RANGES_G[s.accel_range_g]))
        # Read back: a chip that does not keep its configuration would decode with the wrong scale.
        got = self._read(R.SMPLRT_DIV, 4)
        if (got[0] != s.smplrt_div or R.CONFIG_DLPF_CFG.get(got[1]) != s.dlpf_code
                or R.GYRO_CONFIG_FS_SEL.get(got[2]) != R.GYRO_RANGES_DPS[s.gyro_range_dps]
                or R.ACCEL_CONFIG_AFS_SEL.get(got[3]) != R.ACCEL_RANGES_G[s.accel_range_g]):
            raise SensorBusError(f"{self._where(R.SMPLRT_DIV)}: the configuration read back as "
                                 f"{got.hex(' ')} does not match what was written; {self._wiring_hint}",
                                 bus=s.bus, address=s.address, register=R.SMPLRT_DIV)

    def _start_fifo(self) -> None:
        """Empty the FIFO and stream accel+gyro frames into it; timestamps restart from now."""
        self._write(R.FIFO_EN, 0)
        self._update((R.USER_CTRL_FIFO_EN, 0))
        self._update((R.USER_CTRL_FIFO_RESET, 1))
        self._write(R.FIFO_EN, R.FIFO_EN_ACCEL_GYRO)
        self._update((R.USER_CTRL_FIFO_EN, 1))
        enabled_at_s = self._clock.monotonic()
        self._read(R.INT_STATUS)  # clears a stale overflow flag
        self._timeline.restart(enabled_at_s)

    def _restart_fifo_after_gap(self, is_overflow: bool = True) -> None:
        """Reset the FIFO and count the samples made since the last one delivered as lost."""
        self.overflows += int(is_overflow)
        self._recovery = self._recovery or "fifo"
        self._recover()

    def _recover(self) -> None:
        """Finish a FIFO restart (and a reconfiguration, after the self-test). Until this has gone through
        completely the FIFO cannot be trusted; if a bus error cuts it short, the next read starts here."""
        before_s = self._timeline.last_s
        if self._recovery == "configure":
            self._configure()
        self._start_fifo()
        self._recovery = None
        self._pending_lost += self._timeline.samples_since(before_s)

    # ---- reading -----------------------------------------------------------------------------------------------
    def read(self) -> SampleBlock:
        """Drain the FIFO: every whole frame buffered since the last read, in one transfer.

        Returns
        -------
        SampleBlock
            ``accel_g`` and ``gyro_dps`` (n, 3) after ``axes_map``; ``t_s`` continuing the previous block at
            the output data rate; ``lost_samples`` > 0 when an overflow or a stall cost samples before it.
        """
        if self._recovery:
            self._recover()
            return self._empty()
        # Temperature first: once frames have left the FIFO, no other transfer may stand between them and
        # the caller.
        temp_c = self._temperature(self._clock.monotonic())
        frame = R.FIFO_FRAME_BYTES
        before_s = self._clock.monotonic()
        count = int.from_bytes(self._read(R.FIFO_COUNTH, 2), "big")
        now_s = self._clock.monotonic()
        # Frames that could arrive while this read is under way; nearer to full than that, an overflow may
        # shift the FIFO under the transfer, so INT_STATUS is checked before and after.
        margin = frame * (2 + int(self._rate_hz * 0.005))
        suspect = count % frame != 0 or count + margin > R.FIFO_CAPACITY_BYTES
        if suspect and (self._overflowed() or count % frame != 0):
            self._restart_fifo_after_gap()
            return self._empty()
        n = count // frame
        if n == 0:
            self._timeline.seen_at_s = before_s  # whatever comes next was made after this look at the FIFO
            return self._empty()
        try:
            data = self._read_fifo(n * frame)
        except _FifoDisturbed:
            self._restart_fifo_after_gap()
            return self._empty()
        if suspect and self._overflowed_after_drain():
            self._restart_fifo_after_gap()
            return self._empty()
        # one take and one product for both sensors: after the CPU slept, every numpy call costs far more
        # than its arithmetic (bench/daemon.py)
        scaled = np.frombuffer(data, dtype=">i2").reshape(-1, 6)[:, self._fifo_columns] * self._fifo_factors
        accel_g, gyro_dps = scaled[:, :3], scaled[:, 3:]
        t_s, gap = self._timeline.place(n, now_s)
        self._timeline.seen_at_s = before_s
        lost, self._pending_lost = self._pending_lost + gap, 0
        return SampleBlock(t_s, accel_g, gyro_dps, temp_c, lost)

    def _empty(self) -> SampleBlock:
        return SampleBlock.empty(temp_c=self._temp_c)

    def _overflowed_after_drain(self) -> bool:
        """The overflow check after frames were drained: if it fails, whether they were whole is unknown,
        so they are dropped and the next read restarts the FIFO and counts them as lost."""
        try:
            return self._overflowed()
        except SensorBusError:
            self.overflows += 1
            self._recovery = self._recovery or "fifo"
            raise

    def _overflowed(self) -> bool:
        return bool(R.INT_STATUS_FIFO_OFLOW_INT.get(self._read(R.INT_STATUS)[0]))

    def _read_fifo(self, nbytes: int) -> bytes:
        chunks = []
        step = self.MAX_TRANSFER_BYTES
        for start in range(0, nbytes, step):
            try:
                # A NACK (EREMOTEIO) comes at the address byte, before any data moved: safe to repeat.
                chunks.append(self._io(R.FIFO_R_W, self._rdwr_read, R.FIFO_R_W, min(step, nbytes - start),
                                       retry_errnos=(errno.EREMOTEIO,)))
            except SensorBusError:
                raise
            except OSError as exc:
                raise _FifoDisturbed() from exc
        return b"".join(chunks)

    def _temperature(self, now_s: float) -> float:
        if now_s - self._temp_read_at_s >= self.TEMP_REFRESH_S:
            raw = int.from_bytes(self._read(R.TEMP_OUT_H, 2), "big", signed=True)
            self._temp_c = R.temp_c_from_raw(raw)
            self._temp_read_at_s = now_s
        return self._temp_c

    def _read_raw(self) -> np.ndarray:
        """The 14 data registers in one burst (one instant): int16 (7,) accel x/y/z, temperature, gyro x/y/z."""
        return np.frombuffer(self._read(R.ACCEL_XOUT_H, R.DATA_BURST_LENGTH), dtype=">i2").astype(np.int64)

    def read_single(self) -> SampleBlock:
        """One sample from the data registers (a 14-byte burst, so accel and gyro share one instant)."""
        raw = self._read_raw()
        now_s = self._clock.monotonic()
        accel_g = (raw[:3][self._axes_index] * self._accel_scale * self._axes_sign).reshape(1, 3)
        gyro_dps = (raw[4:][self._axes_index] * self._gyro_scale * self._axes_sign).reshape(1, 3)
        self._temp_c, self._temp_read_at_s = R.temp_c_from_raw(int(raw[3])), now_s
        return SampleBlock(np.array([now_s]), accel_g, gyro_dps, self._temp_c)

    # ---- self-test ---------------------------------------------------------------------------------------------
    def _mean_raw(self) -> np.ndarray:
        self._clock.sleep(self.SELF_TEST_SETTLE_S)
        total = np.zeros(7)
        for _ in range(self.SELF_TEST_SAMPLES):
            self._clock.sleep(self._timeline.period_s)
            total += self._read_raw()
        return total / self.SELF_TEST_SAMPLES

    def self_test(self) -> SelfTestResult:
        """The datasheet's self-test (RM §4.1): response with the self-test bits set, minus without, against
        the factory trim; each axis passes within ±14 %. Keep the sensor still meanwhile. The FIFO restarts
        afterwards and the samples made during the test are reported as lost."""
        self._recovery = "configure"  # whatever happens below, the configuration is written again after
        try:
            self._write(R.GYRO_CONFIG, R.GYRO_CONFIG_FS_SEL.put(0, R.GYRO_RANGES_DPS[R.SELF_TEST_GYRO_RANGE_DPS]))
            self._write(R.ACCEL_CONFIG,
                        R.ACCEL_CONFIG_AFS_SEL.put(0, R.ACCEL_RANGES_G[R.SELF_TEST_ACCEL_RANGE_G]))
            off = self._mean_raw()
            self._update((R.GYRO_CONFIG_XG_ST, 1), (R.GYRO_CONFIG_YG_ST, 1), (R.GYRO_CONFIG_ZG_ST, 1))
            self._update((R.ACCEL_CONFIG_XA_ST, 1), (R.ACCEL_CONFIG_YA_ST, 1), (R.ACCEL_CONFIG_ZA_ST, 1))
            on = self._mean_raw()
            codes = R.unpack_self_test_codes(tuple(self._read(R.SELF_TEST_X, 4)))  # type: ignore[arg-type]
        finally:
            self._recover()
        accel_codes, gyro_codes = codes
        axes = []
        for i, name in enumerate("xyz"):
            axes.append(axis_result(f"accel_{name}", on[i] - off[i], R.accel_factory_trim_lsb(accel_codes[i])))
        for i, name in enumerate("xyz"):
            axes.append(axis_result(f"gyro_{name}", on[4 + i] - off[4 + i],
                                     R.gyro_factory_trim_lsb(gyro_codes[i], i)))
        return SelfTestResult(tuple(axes))


    def __enter__(self) -> "Mpu6050":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        s = self.settings
        return (f"Mpu6050(bus={s.bus}, address=0x{s.address:02x}, {self._rate_hz:g} Hz, ±{s.accel_range_g} g, "
                f"±{s.gyro_range_dps} °/s, retries={self.retries}, overflows={self.overflows})")
