"""I2C cost of reading the MPU-6050: our FIFO driver against a per-register driver, on the same emulated chip.

Prints a table, then one JSON object on the last line (keys ``txn_per_sample_200hz_100ms``,
``txn_per_sample_200hz_50ms``, ``txn_per_sample_per_register_driver``, ``torn_samples`` and more).

Wire-time model (stated, not measured): every transaction ends with a STOP (~1 bit time); every message
starts with a START or repeated START (~1 bit time) and an address byte (8 bits + ACK = 9); every register
pointer or data byte is 9 bits (8 + ACK/NACK). Clock stretching, inter-byte gaps of the Linux driver and
the kernel's per-transfer overhead are ignored, so real figures are somewhat worse. The virtual clock is
advanced by each transaction's wire time, so a slow reader really does fall behind the chip.

"Torn" samples: every channel of the emulated motion encodes the same sample phase; a sample whose six
values do not agree was assembled from bytes of different chip samples. The per-register driver (written
here for comparison, in the style of the common Pi library: one ``read_byte_data`` per byte, 14 per
sample) tears when the chip updates its data registers between two of its reads; our driver reads
whole FIFO frames and must show 0.

Run: ``.venv/bin/python bench/i2c.py``
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hal.clock import FakeClock  # noqa: E402
from hal.emulated import EmulatedI2CBus, EmulatedMpu6050  # noqa: E402
from hal.mpu6050 import Mpu6050, SensorSettings  # noqa: E402

RATE_HZ = 200
STEP_COUNTS = 16            # each channel advances 16 counts per sample
WRAP_COUNTS = 30000
CHANNEL_OFFSETS = np.array([0, 7919, 15838, 3001, 11111, 22222])
ACCEL_LSB_PER_G, GYRO_LSB_PER_DPS = 2048.0, 16.4   # ±16 g, ±2000 °/s
CHIP_RATE_ERROR_PPM = 3000   # a real oscillator is a little off, so reader and chip drift in phase
POLL_JITTER_S = 0.001        # a Linux process wakes up to ~1 ms late (seeded)


class PhaseMotion:
    """All six channels carry the sample phase (t * rate), each with its own offset."""

    def sample(self, t_s: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        counts = np.mod(np.asarray(t_s)[:, None] * RATE_HZ * STEP_COUNTS + CHANNEL_OFFSETS, WRAP_COUNTS) \
            - WRAP_COUNTS / 2
        return counts[:, :3] / ACCEL_LSB_PER_G, counts[:, 3:] / GYRO_LSB_PER_DPS


def phases(counts: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(phase of each sample from channel 0, torn flag) from raw counts (n, 6)."""
    p = np.mod(counts + WRAP_COUNTS / 2 - CHANNEL_OFFSETS, WRAP_COUNTS)
    diff = np.mod(p - p[:, :1] + WRAP_COUNTS / 2, WRAP_COUNTS) - WRAP_COUNTS / 2
    return p[:, 0] / STEP_COUNTS, np.abs(diff).max(axis=1) > STEP_COUNTS / 2


def wire_bits(transactions: int, messages: int, nbytes: int) -> int:
    return transactions * 1 + messages * (1 + 9) + nbytes * 9


class TimedBus(EmulatedI2CBus):
    """The emulated bus, with the virtual clock moving by each transaction's wire time at ``bus_hz``."""

    def __init__(self, devices: Dict[int, EmulatedMpu6050], clock: FakeClock, bus_hz: float) -> None:
        super().__init__(devices)
        self._clock, self._bus_hz = clock, bus_hz

    def _timed(self, call, *args):
        before = (self.transactions, self.messages, self.bytes)
        try:
            return call(*args)
        finally:
            bits = wire_bits(self.transactions - before[0], self.messages - before[1], self.bytes - before[2])
            self._clock.advance(bits / self._bus_hz)

    def read_byte_data(self, *args):
        return self._timed(super().read_byte_data, *args)

    def write_byte_data(self, *args):
        return self._timed(super().write_byte_data, *args)

    def read_i2c_block_data(self, *args):
        return self._timed(super().read_i2c_block_data, *args)

    def i2c_rdwr(self, *args):
        return self._timed(super().i2c_rdwr, *args)


def fifo_driver(poll_s: float, duration_s: float, bus_hz: float) -> Dict[str, float]:
    clock = FakeClock()
    chip = EmulatedMpu6050(clock, motion=PhaseMotion(), rate_error_ppm=CHIP_RATE_ERROR_PPM)
    bus = TimedBus({0x68: chip}, clock, bus_hz)
    jitter = np.random.default_rng(0)
    driver = Mpu6050(bus, SensorSettings(sample_rate_hz=RATE_HZ, accel_range_g=16, gyro_range_dps=2000), clock)
    start = (bus.transactions, bus.messages, bus.bytes)
    blocks = []
    wall_s = time.perf_counter()
    next_s = clock.monotonic()
    for _ in range(int(round(duration_s / poll_s))):
        next_s += poll_s
        clock.advance(max(0.0, next_s + jitter.uniform(0.0, POLL_JITTER_S) - clock.monotonic()))
        blocks.append(driver.read())
    wall_s = time.perf_counter() - wall_s
    accel = np.concatenate([b.accel_g for b in blocks]) * ACCEL_LSB_PER_G
    gyro = np.concatenate([b.gyro_dps for b in blocks]) * GYRO_LSB_PER_DPS
    phase, torn = phases(np.rint(np.hstack([accel, gyro])))
    n = len(phase)
    txn, msgs, nbytes = (bus.transactions - start[0], bus.messages - start[1], bus.bytes - start[2])
    bits = wire_bits(txn, msgs, nbytes)
    return {"samples": n, "txn_per_sample": txn / n, "bytes_per_sample": nbytes / n,
            "wire_ms_per_sample_100khz": bits / n / 100e3 * 1e3, "wire_ms_per_sample_400khz": bits / n / 400e3 * 1e3,
            "torn": int(torn.sum()), "lost": int(sum(b.lost_samples for b in blocks)),
            "missed": int(chip.samples_generated - n), "virtual_s_per_wall_s": duration_s / wall_s,
            "retries": driver.retries}


def per_register_driver(duration_s: float, bus_hz: float) -> Dict[str, float]:
    """One read_byte_data per data byte, 14 per sample, polled at the output rate (its best case)."""
    clock = FakeClock()
    chip = EmulatedMpu6050(clock, motion=PhaseMotion(), rate_error_ppm=CHIP_RATE_ERROR_PPM)
    bus = TimedBus({0x68: chip}, clock, bus_hz)
    jitter = np.random.default_rng(0)
    bus.write_byte_data(0x68, 0x6B, 0x00)        # wake
    bus.write_byte_data(0x68, 0x1A, 0x03)        # DLPF 44 Hz
    bus.write_byte_data(0x68, 0x19, 4)           # 200 Hz
    bus.write_byte_data(0x68, 0x1B, 0x18)        # ±2000 °/s
    bus.write_byte_data(0x68, 0x1C, 0x18)        # ±16 g
    start = (bus.transactions, bus.messages, bus.bytes)
    rows: List[List[int]] = []
    next_s = clock.monotonic()
    for _ in range(int(duration_s * RATE_HZ)):
        next_s += 1.0 / RATE_HZ
        clock.advance(max(0.0, next_s + jitter.uniform(0.0, POLL_JITTER_S) - clock.monotonic()))
        raw = bytes(bus.read_byte_data(0x68, reg) for reg in range(0x3B, 0x49))
        values = np.frombuffer(raw, dtype=">i2")
        rows.append([*values[:3], *values[4:]])
    phase, torn = phases(np.array(rows, dtype=float))
    n = len(rows)
    # Steps between consecutive clean readings, in samples (the phase wraps every WRAP/STEP samples).
    wrap = WRAP_COUNTS / STEP_COUNTS
    good = phase[~torn]
    steps = np.rint(np.mod(np.diff(good) + wrap / 2, wrap) - wrap / 2)
    missed = int(np.clip(steps - 1, 0, None).sum())
    distinct = int(np.count_nonzero(steps >= 1)) + 1
    txn, msgs, nbytes = (bus.transactions - start[0], bus.messages - start[1], bus.bytes - start[2])
    bits = wire_bits(txn, msgs, nbytes)
    return {"samples": n, "txn_per_sample": txn / n, "bytes_per_sample": nbytes / n,
            "wire_ms_per_sample_100khz": bits / n / 100e3 * 1e3, "wire_ms_per_sample_400khz": bits / n / 400e3 * 1e3,
            "torn": int(torn.sum()), "distinct_samples": distinct,
            "missed_share": missed / max(1, missed + distinct)}


def main() -> int:
    duration_s = 120.0
    ours_100 = fifo_driver(0.100, duration_s, 400e3)
    ours_50 = fifo_driver(0.050, duration_s, 400e3)
    ours_100_slow = fifo_driver(0.100, duration_s, 100e3)
    reg_100k = per_register_driver(20.0, 100e3)
    reg_400k = per_register_driver(20.0, 400e3)
    print(f"MPU-6050 at {RATE_HZ} Hz on the emulated chip, {duration_s:g} s virtual time (per-register: 20 s)")
    print(f"{'reader':38s} {'txn/sample':>10s} {'bytes/sample':>12s} {'wire ms/sample':>15s} {'torn':>6s} {'lost':>6s}")
    rows = [("FIFO driver, 100 ms polls, 400 kHz", ours_100, ours_100["lost"]),
            ("FIFO driver, 50 ms polls, 400 kHz", ours_50, ours_50["lost"]),
            ("FIFO driver, 100 ms polls, 100 kHz", ours_100_slow, ours_100_slow["lost"]),
            ("per-register driver, 100 kHz", reg_100k, f"{reg_100k['missed_share']:.0%}"),
            ("per-register driver, 400 kHz", reg_400k, f"{reg_400k['missed_share']:.0%}")]
    for name, r, lost in rows:
        wire = r["wire_ms_per_sample_100khz"] if "100 kHz" in name else r["wire_ms_per_sample_400khz"]
        print(f"{name:38s} {r['txn_per_sample']:10.3f} {r['bytes_per_sample']:12.2f} {wire:15.3f} "
              f"{r['torn']:6d} {lost!s:>6s}")
    print("wire model: STOP 1 bit per transaction, START + address 10 bits per message, 9 bits per byte; "
          "per-register lost = share of chip samples never read intact; chip oscillator +0.3 %, poll jitter 0-1 ms")
    print(f"emulator + driver speed: {ours_100['virtual_s_per_wall_s']:.0f} s of 200 Hz data per wall second")
    result = {
        "txn_per_sample_200hz_100ms": round(ours_100["txn_per_sample"], 4),
        "txn_per_sample_200hz_50ms": round(ours_50["txn_per_sample"], 4),
        "txn_per_sample_per_register_driver": round(reg_100k["txn_per_sample"], 4),
        "torn_samples": ours_100["torn"] + ours_50["torn"] + ours_100_slow["torn"],
        "bytes_per_sample_200hz_100ms": round(ours_100["bytes_per_sample"], 3),
        "bytes_per_sample_200hz_50ms": round(ours_50["bytes_per_sample"], 3),
        "bytes_per_sample_per_register_driver": round(reg_100k["bytes_per_sample"], 3),
        "wire_ms_per_sample_100khz_200hz_100ms": round(ours_100["wire_ms_per_sample_100khz"], 4),
        "wire_ms_per_sample_400khz_200hz_100ms": round(ours_100["wire_ms_per_sample_400khz"], 4),
        "wire_ms_per_sample_100khz_per_register": round(reg_100k["wire_ms_per_sample_100khz"], 4),
        "wire_ms_per_sample_400khz_per_register": round(reg_100k["wire_ms_per_sample_400khz"], 4),
        "torn_samples_per_register_100khz": reg_100k["torn"],
        "torn_samples_per_register_400khz": reg_400k["torn"],
        "per_register_samples_read": reg_100k["samples"],
        "per_register_share_never_read_intact_100khz": round(reg_100k["missed_share"], 4),
        "lost_samples_fifo_driver": ours_100["lost"] + ours_50["lost"] + ours_100_slow["lost"],
        "virtual_s_per_wall_s_200hz": round(ours_100["virtual_s_per_wall_s"], 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
