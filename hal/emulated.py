"""An emulated MPU-6050 behind the same ``I2CBus`` as ``smbus2.SMBus``, so the real driver runs unchanged.

It is the chip, not a stub of the driver: a register file with the datasheet's reset values, the side effects
of its control bits, samples produced at the output data rate of the injected clock, a 1024-byte FIFO that
drops its oldest bytes when full, and faults to inject. The register numbers come from
``hal.mpu6050_registers`` (pinned to the datasheet by tests), never from a second table here. The bus it sits
on is ``hal.emulated_bus.EmulatedI2CBus`` (re-exported here), what it feels ``hal.emulated_motion``, its faults
``hal.emulated_faults``.

Example::

    clock = FakeClock()
    chip = EmulatedMpu6050(clock, motion=ArrayMotion(t_s, accel_g, gyro_dps))
    bus = EmulatedI2CBus({0x68: chip})
    sensor = Mpu6050(bus, SensorSettings(), clock)     # the real driver
    clock.advance(0.1); block = sensor.read()          # 20 samples at 200 Hz

Time: each bus transaction first generates every sample that fell due since the previous one (a vectorised
numpy step, so a 1 kHz chip polled every 100 ms costs one small array operation, not 100 Python calls).

Datasheet behaviour modelled (RM-MPU-6000A rev 4.2, pinned in ``tests/hal/test_emulated_datasheet.py``):
FIFO_COUNT_H/L are shadow registers loaded when FIFO_COUNT_H is read (§4.30); the accelerometer outputs at
1 kHz, so faster sample rates repeat its samples (§4.2); INT_STATUS clears when read, or on any read with
INT_PIN_CFG.INT_RD_CLEAR = 1 (§4.14); "Read Only" registers ignore writes (§3); CLKSEL = 7 stops sampling (§4.28);
an empty FIFO reads as the last byte read (§4.31); DEVICE_RESET restores the reset values and self-clears.

Not modelled (a driver that relies on one of these cannot be tested here):

- the DMP: its memory banks, firmware load and DMP interrupts; DMP-based drivers cannot run here;
- the offset registers 0x06-0x0B (accel) and 0x13-0x18 (gyro), which rev 4.2 does not describe: writes to them
  are kept but do not shift the output;
- the DLPF's filtering of the signal (only its effect on the output rate), and the gyro's start-up time after
  waking or a reset (samples are valid from the first one);
- low-power cycle mode (PWR_MGMT_1.CYCLE, LP_WAKE_CTRL), standby of single axes (PWR_MGMT_2), and TEMP_DIS
  (the temperature keeps its configured value);
- the auxiliary I2C master and pass-through (I2C_MST_STATUS and EXT_SENS_DATA stay 0, nothing of theirs
  reaches the FIFO), FSYNC (EXT_SYNC_SET), the motion-detection interrupt (MOT_THR, MOT_DETECT_CTRL);
- the INT pin: INT_ENABLE and INT_PIN_CFG's level, open-drain and latch bits are stored but drive no pin,
  and INT_STATUS flags are raised whatever INT_ENABLE says;
- the signal paths SIGNAL_PATH_RESET resets (the bits self-clear; the output is not disturbed).
"""
from __future__ import annotations

import math
from typing import List, Optional, Tuple

import numpy as np

from . import mpu6050_registers as R
from .clock import Clock
from .emulated_bus import EmulatedI2CBus, nack
from .emulated_faults import FaultPlan, in_windows
from .emulated_motion import ArrayMotion, MotionSource, SensorNoise, still

__all__ = ["MotionSource", "ArrayMotion", "SensorNoise", "FaultPlan", "EmulatedMpu6050", "EmulatedI2CBus"]


class EmulatedMpu6050:
    """One emulated MPU-6050: register file, FIFO, output-rate timing, motion, noise and faults.

    Parameters
    ----------
    clock : Clock
        Drives sample timing (``FakeClock`` for virtual time, ``MonotonicClock`` for real time).
    motion : MotionSource, optional
        What the chip feels; by default it lies still, z up (accel (0, 0, 1) g).
    who_am_i : int
        What WHO_AM_I reads (0x68 for an MPU-6050; e.g. 0x70 emulates an MPU-6500 on the same address).
    faults : FaultPlan, optional
    noise : SensorNoise, optional
        Without it samples are exact up to quantisation (tests check decoding within 1 LSB).
    temp_c : float
        The die temperature the chip reports.
    rate_error_ppm : float
        How fast the chip's sample clock runs against ``clock`` (real oscillators are off by up to ~1 %).
    self_test_gain : float
        Self-test response as a fraction of the factory trim (1.0 healthy; 0.5 fails the ±14 % limit).

    Attributes
    ----------
    write_log : list of (t_s, register, value)
        Every register write, in order, with chip time.
    samples_generated : int
        Samples produced while the FIFO was enabled (the truth a reader's count is checked against).
    nacks : int
        Transfers refused by injected faults.
    """

    RESET_DURATION_S = 0.05
    MAX_SAMPLES_PER_STEP = 200_000

    def __init__(self, clock: Clock, motion: Optional[MotionSource] = None, who_am_i: int = R.WHO_AM_I_VALUE,
                 faults: Optional[FaultPlan] = None, noise: Optional[SensorNoise] = None, temp_c: float = 25.0,
                 rate_error_ppm: float = 0.0, self_test_gain: float = 1.0,
                 self_test_codes: Tuple[Tuple[int, int, int], Tuple[int, int, int]] = ((16, 15, 17), (14, 16, 15)),
                 ) -> None:
        self._clock = clock
        self._t0_s = clock.monotonic()
        self._motion = motion if motion is not None else still()
        self._who_am_i = who_am_i & 0xFF
        self._faults = faults if faults is not None else FaultPlan()
        self._fault_rng = np.random.default_rng(self._faults.seed)
        self._noise = noise
        self._noise_rng = np.random.default_rng(noise.seed) if noise is not None else None
        self._temp_c = float(temp_c)
        self._rate_scale = 1.0 + rate_error_ppm * 1e-6
        self._self_test_gain = float(self_test_gain)
        self._trim_regs = R.pack_self_test_codes(*self_test_codes)
        accel_codes, gyro_codes = self_test_codes
        self._st_accel_g = np.array([R.accel_factory_trim_lsb(c) for c in accel_codes]) / \
            R.ACCEL_LSB_PER_G[R.SELF_TEST_ACCEL_RANGE_G]
        self._st_gyro_dps = np.array([R.gyro_factory_trim_lsb(c, i) for i, c in enumerate(gyro_codes)]) / \
            R.GYRO_LSB_PER_DPS[R.SELF_TEST_GYRO_RANGE_DPS]
        self._overflows_done = 0
        self.write_log: List[Tuple[float, int, int]] = []
        self.samples_generated = 0
        self.nacks = 0
        self._power_on()

    # ---- state ---------------------------------------------------------------------------------------------------
    def _power_on(self) -> None:
        self._regs = bytearray(R.REGISTER_FILE_SIZE)
        for reg, value in R.RESET_VALUES.items():
            self._regs[reg] = value
        self._regs[R.WHO_AM_I] = self._who_am_i
        self._regs[R.SELF_TEST_X:R.SELF_TEST_A + 1] = bytes(self._trim_regs)
        self._fifo = bytearray()
        self._fifo_last_byte = 0
        self._pending_drop = 0
        self._count_latch = 0  # the FIFO_COUNT_H/L shadow registers (RM §4.30), reset to 0
        self._anchor_s: Optional[float] = None  # chip time of sample k = 0 of the current run
        self._next_k = 0
        self._reset_until_s = -1.0
        self._pointer = 0

    @property
    def created_at_s(self) -> float:
        """The clock's reading when the chip was created: chip time 0 (fault windows count from here)."""
        return self._t0_s

    def now_s(self) -> float:
        """Chip time: seconds since the chip was created."""
        return self._clock.monotonic() - self._t0_s

    @property
    def output_rate_hz(self) -> float:
        """The output data rate the registers currently select (before the oscillator error)."""
        return R.sample_rate_hz(R.CONFIG_DLPF_CFG.get(self._regs[R.CONFIG]), self._regs[R.SMPLRT_DIV])

    @property
    def fifo_bytes(self) -> int:
        return len(self._fifo)

    def _is_sampling(self) -> bool:
        power = self._regs[R.PWR_MGMT_1]
        return not (power & (R.PWR_MGMT_1_SLEEP.mask | R.PWR_MGMT_1_DEVICE_RESET.mask)) and \
            R.PWR_MGMT_1_CLKSEL.get(power) != R.CLKSEL_STOP  # CLKSEL 7 stops the clock (RM §4.28)

    # ---- the bus side (called by EmulatedI2CBus) -------------------------------------------------------------------
    def begin_transfer(self) -> None:
        """One transfer starts: apply faults (a refused transfer changes nothing), then catch up on time."""
        now_s = self.now_s()
        if self._faults.refuses(now_s) or (
                self._faults.nack_rate > 0 and self._fault_rng.random() < self._faults.nack_rate):
            self.nacks += 1
            raise nack()
        self._catch_up(now_s)

    def read(self, register: Optional[int], length: int) -> bytes:
        """``length`` bytes from ``register`` (or the current pointer), auto-incrementing except at FIFO_R_W."""
        pointer = self._pointer if register is None else register & 0x7F
        out = bytearray()
        while len(out) < length:
            if pointer == R.FIFO_R_W:
                out += self._fifo_pop(length - len(out))
                break
            out.append(self._read_register(pointer))
            pointer = (pointer + 1) & 0x7F
        self._pointer = pointer
        if length and R.INT_PIN_CFG_INT_RD_CLEAR.get(self._regs[R.INT_PIN_CFG]):
            self._regs[R.INT_STATUS] = 0  # RM §4.14: INT_RD_CLEAR = 1, any read operation clears the status
        return bytes(out)

    def write(self, data: bytes) -> None:
        """A write message: the first byte sets the register pointer, the rest are written from there."""
        if not data:
            return
        pointer = data[0] & 0x7F
        for value in data[1:]:
            self._write_register(pointer, value)
            if pointer != R.FIFO_R_W:
                pointer = (pointer + 1) & 0x7F
        self._pointer = pointer

    # ---- registers -------------------------------------------------------------------------------------------------
    def _read_register(self, reg: int) -> int:
        if reg == R.INT_STATUS:
            value = self._regs[reg]
            self._regs[reg] = 0  # cleared by reading it, whatever INT_RD_CLEAR says (RM §4.14, §4.16)
            return value
        if reg == R.FIFO_COUNTH:
            # RM §4.30: reading FIFO_COUNT_H loads both count registers; FIFO_COUNT_L read alone keeps
            # answering from the last load, however the FIFO has filled since.
            self._count_latch = len(self._fifo)
            return (self._count_latch >> 8) & 0xFF
        if reg == R.FIFO_COUNTL:
            return self._count_latch & 0xFF
        return self._regs[reg]

    def _write_register(self, reg: int, value: int) -> None:
        now_s = self.now_s()
        self.write_log.append((now_s, reg, value))
        if reg in R.READ_ONLY_REGISTERS:
            return
        if reg == R.FIFO_R_W:
            self._push_fifo(bytes([value]))
            return
        if reg == R.PWR_MGMT_1 and value & R.PWR_MGMT_1_DEVICE_RESET.mask:
            self._power_on()
            self._regs[R.PWR_MGMT_1] = R.PWR_MGMT_1_RESET_VALUE | R.PWR_MGMT_1_DEVICE_RESET.mask
            self._reset_until_s = now_s + self.RESET_DURATION_S
            return
        was_sampling = self._is_sampling()
        old_rate = self.output_rate_hz
        if reg == R.SIGNAL_PATH_RESET:
            value = 0  # self-clearing; RM §4.26: it does not clear the sensor registers
        if reg == R.USER_CTRL:
            if value & R.USER_CTRL_FIFO_RESET.mask:
                self._fifo.clear()
                self._pending_drop = 0
            if value & R.USER_CTRL_SIG_COND_RESET.mask:
                self._regs[R.ACCEL_XOUT_H:R.GYRO_ZOUT_L + 1] = bytes(R.DATA_BURST_LENGTH)
            value &= ~(R.USER_CTRL_FIFO_RESET.mask | R.USER_CTRL_I2C_MST_RESET.mask |
                       R.USER_CTRL_SIG_COND_RESET.mask)  # self-clearing bits
        self._regs[reg] = value & 0xFF
        if not self._is_sampling():
            self._anchor_s = None
        elif not was_sampling or self.output_rate_hz != old_rate:
            self._start_run(now_s)

    def _start_run(self, now_s: float) -> None:
        self._anchor_s = now_s + 1.0 / (self.output_rate_hz * self._rate_scale)
        self._next_k = 0

    # ---- time: produce every sample due ----------------------------------------------------------------------------
    def _catch_up(self, now_s: float) -> None:
        if self._regs[R.PWR_MGMT_1] & R.PWR_MGMT_1_DEVICE_RESET.mask and now_s >= self._reset_until_s:
            self._regs[R.PWR_MGMT_1] &= ~R.PWR_MGMT_1_DEVICE_RESET.mask
        self._apply_forced_overflows(now_s)
        if not self._is_sampling():
            return
        if self._anchor_s is None:
            self._start_run(now_s)
        period_s = 1.0 / (self.output_rate_hz * self._rate_scale)
        last_k = math.floor((now_s - self._anchor_s) / period_s + 1e-9)
        if last_k < self._next_k:
            return
        n_due = last_k - self._next_k + 1
        # A long silence (an hour at 1 kHz) would be millions of samples; only the newest can still be in a
        # full FIFO or the data registers, so past a bound the older ones are counted, not computed.
        keep = n_due if n_due <= self.MAX_SAMPLES_PER_STEP else R.FIFO_CAPACITY_BYTES // 2 + 2
        t_s = self._anchor_s + np.arange(last_k - keep + 1, last_k + 1) * period_s
        self._next_k = last_k + 1
        skipped = n_due - keep
        frozen = in_windows(t_s, self._faults.freeze_windows_s)
        if frozen.any():
            t_s = t_s[~frozen]  # a frozen chip produces nothing: those samples never exist
        if len(t_s) == 0:
            return
        counts = self._quantise(t_s, self._accel_times(t_s))
        self._regs[R.ACCEL_XOUT_H:R.GYRO_ZOUT_L + 1] = counts[-1].astype(">i2").tobytes()
        self._regs[R.INT_STATUS] |= R.INT_STATUS_DATA_RDY_INT.mask
        fifo_on = self._regs[R.USER_CTRL] & R.USER_CTRL_FIFO_EN.mask
        columns = self._fifo_columns()
        if fifo_on and columns:
            produced = len(t_s) + skipped
            self.samples_generated += produced
            if skipped:  # those frames went through the FIFO and out of its far end long ago
                self._fifo.clear()
                self._regs[R.INT_STATUS] |= R.INT_STATUS_FIFO_OFLOW_INT.mask
            self._push_fifo(counts[:, columns].astype(">i2").tobytes())

    def _accel_times(self, t_s: np.ndarray) -> np.ndarray:
        """When the accelerometer last updated before each sample: it runs at 1 kHz (RM §4.2), so above that
        sample rate the newest accel value is output again until the next one (on the chip's own clock)."""
        if self.output_rate_hz <= R.ACCEL_MAX_OUTPUT_RATE_HZ:
            return t_s
        accel_period_s = 1.0 / (R.ACCEL_MAX_OUTPUT_RATE_HZ * self._rate_scale)
        return self._anchor_s + np.floor((t_s - self._anchor_s) / accel_period_s + 1e-9) * accel_period_s

    def _quantise(self, t_s: np.ndarray, accel_t_s: np.ndarray) -> np.ndarray:
        """int16 counts (n, 7): accel x/y/z, temperature, gyro x/y/z, rounded and saturated like the ADC."""
        accel_g, gyro_dps = self._motion.sample(t_s)
        accel_index = None
        if accel_t_s is not t_s:  # each accel sample (and its noise) is made once, then repeated
            accel_once_t_s, accel_index = np.unique(accel_t_s, return_inverse=True)
            accel_g = self._motion.sample(accel_once_t_s)[0]
        accel_g = np.array(accel_g, dtype=float)
        gyro_dps = np.array(gyro_dps, dtype=float)
        if self._noise_rng is not None:
            accel_g += self._noise_rng.normal(0.0, self._noise.accel_g_rms, accel_g.shape)
            gyro_dps += self._noise_rng.normal(0.0, self._noise.gyro_dps_rms, gyro_dps.shape)
        if accel_index is not None:
            accel_g = accel_g[accel_index.reshape(-1)]
        accel_st = np.array([bool(self._regs[R.ACCEL_CONFIG] & f.mask) for f in
                             (R.ACCEL_CONFIG_XA_ST, R.ACCEL_CONFIG_YA_ST, R.ACCEL_CONFIG_ZA_ST)])
        gyro_st = np.array([bool(self._regs[R.GYRO_CONFIG] & f.mask) for f in
                            (R.GYRO_CONFIG_XG_ST, R.GYRO_CONFIG_YG_ST, R.GYRO_CONFIG_ZG_ST)])
        accel_g += self._self_test_gain * self._st_accel_g * accel_st
        gyro_dps += self._self_test_gain * self._st_gyro_dps * gyro_st
        accel_range = [g for g, code in R.ACCEL_RANGES_G.items()
                       if code == R.ACCEL_CONFIG_AFS_SEL.get(self._regs[R.ACCEL_CONFIG])][0]
        gyro_range = [d for d, code in R.GYRO_RANGES_DPS.items()
                      if code == R.GYRO_CONFIG_FS_SEL.get(self._regs[R.GYRO_CONFIG])][0]
        temp_raw = np.full((len(t_s), 1), (self._temp_c - R.TEMP_OFFSET_C) * R.TEMP_LSB_PER_C)
        values = np.hstack([accel_g * R.ACCEL_LSB_PER_G[accel_range], temp_raw,
                            gyro_dps * R.GYRO_LSB_PER_DPS[gyro_range]])
        return np.clip(np.rint(values), -32768, 32767).astype(np.int16)

    def _fifo_columns(self) -> List[int]:
        """Which of the 7 values go into a FIFO frame, in register order (RM §4.31)."""
        enabled = self._regs[R.FIFO_EN]
        columns = []
        if enabled & R.FIFO_EN_ACCEL.mask:
            columns += [0, 1, 2]
        if enabled & R.FIFO_EN_TEMP.mask:
            columns.append(3)
        for i, f in enumerate((R.FIFO_EN_XG, R.FIFO_EN_YG, R.FIFO_EN_ZG)):
            if enabled & f.mask:
                columns.append(4 + i)
        return columns

    def _apply_forced_overflows(self, now_s: float) -> None:
        times = self._faults.overflow_at_s
        while self._overflows_done < len(times) and times[self._overflows_done] <= now_s:
            self._overflows_done += 1
            self._regs[R.INT_STATUS] |= R.INT_STATUS_FIFO_OFLOW_INT.mask
            self._pending_drop += R.FIFO_FRAME_BYTES // 2
            self._drop_pending()

    # ---- FIFO ------------------------------------------------------------------------------------------------------
    def _push_fifo(self, data: bytes) -> None:
        self._fifo += data
        self._drop_pending()
        excess = len(self._fifo) - R.FIFO_CAPACITY_BYTES
        if excess > 0:  # full: the oldest bytes go, whatever frame they belonged to (PS §7.17)
            del self._fifo[:excess]
            self._regs[R.INT_STATUS] |= R.INT_STATUS_FIFO_OFLOW_INT.mask

    def _drop_pending(self) -> None:
        drop = min(self._pending_drop, len(self._fifo))
        if drop:
            del self._fifo[:drop]
            self._pending_drop -= drop

    def _fifo_pop(self, n: int) -> bytes:
        take = bytes(self._fifo[:n])
        del self._fifo[:n]
        if take:
            self._fifo_last_byte = take[-1]
        # An empty FIFO reads as the last byte read, until new data arrives (RM §4.31).
        return take + bytes([self._fifo_last_byte]) * (n - len(take))
