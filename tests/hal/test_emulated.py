"""The emulated MPU-6050 behaves like the chip on the bus: tested with plain register reads and writes
(literal datasheet addresses), not through our driver, so the driver cannot hide an emulator mistake."""
from __future__ import annotations

import errno

import numpy as np
import pytest
from smbus2 import i2c_msg

from hal.emulated import ArrayMotion, EmulatedI2CBus, EmulatedMpu6050, FaultPlan, SensorNoise

ADDR = 0x68


def still(accel_g=(0.0, 0.0, 1.0), gyro_dps=(0.0, 0.0, 0.0)):
    return ArrayMotion([0.0], [accel_g], [gyro_dps])


def make(fake_clock, **kwargs):
    chip = EmulatedMpu6050(fake_clock, **kwargs)
    return chip, EmulatedI2CBus({ADDR: chip})


def word(bus, register):
    high, low = bus.read_i2c_block_data(ADDR, register, 2)
    value = (high << 8) | low
    return value - 65536 if value >= 32768 else value


def wake_200hz_fifo(bus):
    bus.write_byte_data(ADDR, 0x6B, 0x01)   # awake, PLL
    bus.write_byte_data(ADDR, 0x1A, 0x03)   # DLPF 44 Hz -> 1 kHz gyro rate
    bus.write_byte_data(ADDR, 0x19, 4)      # 1000 / 5 = 200 Hz
    bus.write_byte_data(ADDR, 0x23, 0x78)   # accel + gyro into the FIFO
    bus.write_byte_data(ADDR, 0x6A, 0x44)   # FIFO enable + FIFO reset


def fifo_count(bus):
    high, low = bus.read_i2c_block_data(ADDR, 0x72, 2)
    return (high << 8) | low


def test_registers_hold_datasheet_reset_values_when_the_chip_powers_up(fake_clock):
    _, bus = make(fake_clock)
    values = {reg: bus.read_byte_data(ADDR, reg) for reg in range(0x80) if reg != 0x74}
    non_zero = {reg: v for reg, v in values.items() if v and reg not in (0x0D, 0x0E, 0x0F, 0x10)}
    assert non_zero == {0x6B: 0x40, 0x75: 0x68}


def test_read_only_registers_ignore_writes_when_a_driver_writes_them(fake_clock):
    chip, bus = make(fake_clock)
    bus.write_byte_data(ADDR, 0x75, 0x12)
    bus.write_byte_data(ADDR, 0x3B, 0x55)
    assert bus.read_byte_data(ADDR, 0x75) == 0x68
    assert bus.read_byte_data(ADDR, 0x3B) == 0
    assert (fake_clock.monotonic() - chip.created_at_s, 0x75, 0x12) in [(t, r, v) for t, r, v in chip.write_log]


def test_sleeping_chip_produces_no_data_when_time_passes(fake_clock):
    _, bus = make(fake_clock, motion=still((0.5, 0.0, 1.0)))
    bus.write_byte_data(ADDR, 0x23, 0x78)
    bus.write_byte_data(ADDR, 0x6A, 0x40)
    fake_clock.advance(1.0)
    assert bus.read_i2c_block_data(ADDR, 0x3B, 14) == [0] * 14
    assert fifo_count(bus) == 0
    bus.write_byte_data(ADDR, 0x6B, 0x00)   # wake
    fake_clock.advance(0.01)
    assert word(bus, 0x3B) == round(0.5 * 16384)
    assert fifo_count(bus) > 0


def test_data_registers_are_big_endian_twos_complement_when_motion_is_negative(fake_clock):
    _, bus = make(fake_clock, motion=still((-0.5, 0.25, -1.0), (-100.0, 50.0, 0.0)))
    bus.write_byte_data(ADDR, 0x6B, 0x00)
    fake_clock.advance(0.01)
    data = bus.read_i2c_block_data(ADDR, 0x3B, 14)
    ax = int.from_bytes(bytes(data[0:2]), "big", signed=True)
    gx = int.from_bytes(bytes(data[8:10]), "big", signed=True)
    assert (ax, gx) == (-8192, round(-100 * 131))
    assert int.from_bytes(bytes(data[6:8]), "big", signed=True) == round((25.0 - 36.53) * 340)


def test_values_saturate_at_full_scale_when_motion_exceeds_the_range(fake_clock):
    _, bus = make(fake_clock, motion=still((20.0, -20.0, 1.0), (300.0, -300.0, 0.0)))
    bus.write_byte_data(ADDR, 0x6B, 0x00)   # ±2 g, ±250 °/s after reset
    fake_clock.advance(0.01)
    assert [word(bus, r) for r in (0x3B, 0x3D, 0x43, 0x45)] == [32767, -32768, 32767, -32768]
    bus.write_byte_data(ADDR, 0x1C, 0x18)   # ±16 g: 20 g still saturates, 1 g does not
    fake_clock.advance(0.01)
    assert word(bus, 0x3B) == 32767 and word(bus, 0x3F) == 2048


def test_device_reset_restores_reset_values_and_self_clears_when_written(fake_clock):
    _, bus = make(fake_clock)
    bus.write_byte_data(ADDR, 0x6B, 0x01)
    bus.write_byte_data(ADDR, 0x1C, 0x18)
    bus.write_byte_data(ADDR, 0x6B, 0x80)
    assert bus.read_byte_data(ADDR, 0x6B) & 0x80       # still resetting
    fake_clock.advance(0.1)
    assert bus.read_byte_data(ADDR, 0x6B) == 0x40      # done: asleep, as at power-up
    assert bus.read_byte_data(ADDR, 0x1C) == 0


def test_fifo_burst_returns_successive_frames_when_read_at_fifo_r_w(fake_clock):
    _, bus = make(fake_clock, motion=still((0.5, -0.5, 1.0), (10.0, 20.0, -30.0)))
    wake_200hz_fifo(bus)
    fake_clock.advance(0.0151)   # three samples at 200 Hz
    assert fifo_count(bus) == 36
    write, read = i2c_msg.write(ADDR, [0x74]), i2c_msg.read(ADDR, 36)
    bus.i2c_rdwr(write, read)
    frames = np.frombuffer(bytes(read), dtype=">i2").reshape(-1, 6)
    assert frames.tolist() == [[8192, -8192, 16384, 1310, 2620, -3930]] * 3   # never runs on into WHO_AM_I
    assert fifo_count(bus) == 0


def test_empty_fifo_repeats_the_last_byte_when_read_past_its_end(fake_clock):
    _, bus = make(fake_clock, motion=still((0.0, 0.0, 1.0)))
    wake_200hz_fifo(bus)
    fake_clock.advance(0.0051)
    data = bus.read_i2c_block_data(ADDR, 0x74, 14)
    assert data[12:] == [data[11], data[11]]


def test_int_status_clears_when_read(fake_clock):
    _, bus = make(fake_clock)
    bus.write_byte_data(ADDR, 0x6B, 0x00)
    fake_clock.advance(0.01)
    assert bus.read_byte_data(ADDR, 0x3A) & 0x01       # DATA_RDY
    assert bus.read_byte_data(ADDR, 0x3A) == 0


def test_fifo_keeps_the_newest_1024_bytes_and_flags_overflow_when_not_drained(fake_clock):
    t_s = np.arange(0, 2, 0.005)
    ramp = np.c_[t_s, np.zeros_like(t_s), np.ones_like(t_s)]
    _, bus = make(fake_clock, motion=ArrayMotion(t_s, ramp, np.zeros_like(ramp)))
    wake_200hz_fifo(bus)
    fake_clock.advance(1.0)                 # 200 frames = 2400 bytes into a 1024-byte FIFO
    assert fifo_count(bus) == 1024
    assert bus.read_byte_data(ADDR, 0x3A) & 0x10
    # 1024 is not a whole number of 12-byte frames: the oldest surviving frame is cut (1024 = 85 * 12 + 4).
    write, read = i2c_msg.write(ADDR, [0x74]), i2c_msg.read(ADDR, 1024)
    bus.i2c_rdwr(write, read)
    tail = np.frombuffer(bytes(read)[4:], dtype=">i2").reshape(-1, 6)
    assert tail[-1, 0] == word(bus, 0x3B)   # newest frame = the data registers


def test_fifo_count_pair_is_latched_when_the_high_byte_is_read(fake_clock):
    _, bus = make(fake_clock)
    wake_200hz_fifo(bus)
    fake_clock.advance(0.101)               # 20 frames = 240 bytes
    high = bus.read_byte_data(ADDR, 0x72)
    fake_clock.advance(0.1)                 # 20 more while the host is between the two reads
    low = bus.read_byte_data(ADDR, 0x73)
    assert (high << 8) | low == 240


def test_output_rate_follows_smplrt_div_and_dlpf_when_configured(fake_clock):
    _, bus = make(fake_clock)
    wake_200hz_fifo(bus)
    bus.write_byte_data(ADDR, 0x1A, 0x00)   # DLPF off: gyro rate 8 kHz
    bus.write_byte_data(ADDR, 0x19, 79)     # 8000 / 80 = 100 Hz
    bus.write_byte_data(ADDR, 0x6A, 0x44)
    fake_clock.advance(0.5001)
    assert fifo_count(bus) == 50 * 12


def test_self_test_bits_shift_the_output_by_the_factory_response_when_set(fake_clock):
    _, bus = make(fake_clock, motion=still((0.0, 0.0, 1.0)))
    bus.write_byte_data(ADDR, 0x6B, 0x00)
    bus.write_byte_data(ADDR, 0x1C, 0x10)   # ±8 g
    fake_clock.advance(0.01)
    before = word(bus, 0x3B)
    bus.write_byte_data(ADDR, 0x1C, 0x90)   # XA_ST
    fake_clock.advance(0.01)
    codes = [bus.read_byte_data(ADDR, r) for r in (0x0D, 0x10)]
    xa_test = ((codes[0] >> 5) << 2) | ((codes[1] >> 4) & 0x3)
    factory_trim = 4096 * 0.34 * (0.92 / 0.34) ** ((xa_test - 1) / 30)
    assert word(bus, 0x3B) - before == pytest.approx(factory_trim, abs=1)


def test_nack_window_fails_transfers_only_inside_it_when_planned(fake_clock):
    chip, bus = make(fake_clock, faults=FaultPlan(nack_windows_s=[(1.0, 2.0)]))
    assert bus.read_byte_data(ADDR, 0x75) == 0x68
    fake_clock.advance(1.5)
    with pytest.raises(OSError) as info:
        bus.read_byte_data(ADDR, 0x75)
    assert info.value.errno == errno.EREMOTEIO and chip.nacks == 1
    fake_clock.advance(1.0)
    assert bus.read_byte_data(ADDR, 0x75) == 0x68


def test_nack_rate_refuses_about_that_share_of_transfers_when_seeded(fake_clock):
    chip, bus = make(fake_clock, faults=FaultPlan(nack_rate=0.2, seed=3))
    failures = 0
    for _ in range(2000):
        try:
            bus.read_byte_data(ADDR, 0x75)
        except OSError:
            failures += 1
    assert 300 < failures < 500 and chip.nacks == failures


def test_frozen_chip_keeps_its_last_sample_and_fills_no_fifo_when_frozen(fake_clock):
    t_s = np.arange(0, 10, 0.005)
    ramp = np.c_[t_s / 10, np.zeros_like(t_s), np.ones_like(t_s)]
    _, bus = make(fake_clock, motion=ArrayMotion(t_s, ramp, np.zeros_like(ramp)),
                  faults=FaultPlan(freeze_windows_s=[(1.0, 3.0)]))
    wake_200hz_fifo(bus)
    fake_clock.advance(1.2)
    bus.write_byte_data(ADDR, 0x6A, 0x44)   # empty the FIFO
    first = bus.read_i2c_block_data(ADDR, 0x3B, 14)
    fake_clock.advance(1.0)
    assert bus.read_i2c_block_data(ADDR, 0x3B, 14) == first and fifo_count(bus) == 0
    fake_clock.advance(1.0)
    assert bus.read_i2c_block_data(ADDR, 0x3B, 14) != first and fifo_count(bus) > 0


def test_fault_plan_names_the_bad_entry_when_a_window_is_backwards():
    with pytest.raises(ValueError, match=r"freeze_windows_s.*\[2\.0, 1\.0\]"):
        FaultPlan(freeze_windows_s=[(2.0, 1.0)])
    with pytest.raises(ValueError, match="nack_rate"):
        FaultPlan(nack_rate=1.5)
    with pytest.raises(ValueError, match="vanish_window"):
        FaultPlan.from_dict({"vanish_window": [[1, 2]]})
    assert FaultPlan.from_dict({"vanish_windows_s": [[1, 2]]}).vanish_windows_s == ((1.0, 2.0),)


def test_array_motion_interpolates_between_samples_when_played_faster_than_recorded():
    motion = ArrayMotion([0.0, 0.01, 0.02], [[0, 0, 1], [1, 0, 1], [3, 0, 1]], np.zeros((3, 3)))
    accel_g, _ = motion.sample(np.array([0.005, 0.015, 5.0]))
    assert accel_g[:, 0].tolist() == pytest.approx([0.5, 2.0, 3.0])   # holds the last value after the end


def test_array_motion_starts_again_when_looping():
    motion = ArrayMotion([10.0, 10.5], [[0, 0, 1], [1, 0, 1]], np.zeros((2, 3)), loop=True)
    accel_g, _ = motion.sample(np.array([0.25, 1.0, 1.25, 0.75]))
    assert accel_g[:, 0].tolist() == pytest.approx([0.5, 0.0, 0.5, 0.5])


def test_array_motion_names_the_shapes_when_arrays_disagree():
    with pytest.raises(ValueError, match=r"accel_g \(3, 2\)"):
        ArrayMotion([0, 1, 2], np.zeros((3, 2)), np.zeros((3, 3)))


def test_noise_is_seeded_and_of_the_asked_size_when_enabled(fake_clock):
    def run():
        _, bus = make(fake_clock, noise=SensorNoise(accel_g_rms=0.01, gyro_dps_rms=0.1, seed=7))
        bus.write_byte_data(ADDR, 0x6B, 0x00)
        values = []
        for _ in range(400):
            fake_clock.advance(0.001)
            values.append(word(bus, 0x3F) / 16384)
        return np.array(values)

    first, second = run(), run()
    assert first.tolist() == second.tolist()
    assert 0.008 < first.std() < 0.012 and abs(first.mean() - 1.0) < 0.003


def test_third_party_style_reader_gets_back_the_motion_when_handed_the_emulated_bus(fake_clock):
    """The per-register access of the common Pi library (mpu6050-raspberrypi: wake with PWR_MGMT_1 = 0,
    two read_byte_data per word, ±2 g / ±250 °/s defaults), written here independently of our driver."""
    _, bus = make(fake_clock, motion=still((0.5, -0.25, 0.75), (10.0, -20.0, 30.0)))

    def read_word(register):
        high = bus.read_byte_data(ADDR, register)
        low = bus.read_byte_data(ADDR, register + 1)
        value = (high << 8) + low
        return -((65535 - value) + 1) if value >= 0x8000 else value

    bus.write_byte_data(ADDR, 0x6B, 0x00)
    fake_clock.advance(0.01)
    accel = [read_word(r) / 16384.0 for r in (0x3B, 0x3D, 0x3F)]
    gyro = [read_word(r) / 131.0 for r in (0x43, 0x45, 0x47)]
    temp = read_word(0x41) / 340.0 + 36.53
    assert accel == pytest.approx([0.5, -0.25, 0.75], abs=1 / 16384)
    assert gyro == pytest.approx([10.0, -20.0, 30.0], abs=1 / 131)
    assert temp == pytest.approx(25.0, abs=0.01)


def test_hour_long_silence_keeps_only_the_newest_frames_when_nobody_reads(fake_clock):
    t_s = np.array([0.0, 4000.0])
    ramp = np.array([[0.0, 0.0, 1.0], [4.0, 0.0, 1.0]])   # 1 mg per second: the newest frame is recognisable
    chip, bus = make(fake_clock, motion=ArrayMotion(t_s, ramp, np.zeros((2, 3))))
    wake_200hz_fifo(bus)
    bus.write_byte_data(ADDR, 0x19, 0)        # 1 kHz
    bus.write_byte_data(ADDR, 0x1C, 0x18)     # ±16 g
    bus.write_byte_data(ADDR, 0x6A, 0x44)
    fake_clock.advance(3600.0)
    assert fifo_count(bus) == 1024 and bus.read_byte_data(ADDR, 0x3A) & 0x10
    assert chip.samples_generated == pytest.approx(3_600_000, abs=2)
    write, read = i2c_msg.write(ADDR, [0x74]), i2c_msg.read(ADDR, 1024)
    bus.i2c_rdwr(write, read)
    newest_ax = int.from_bytes(bytes(read)[-12:-10], "big", signed=True)
    assert newest_ax == word(bus, 0x3B) == pytest.approx(3.6 * 2048, abs=2)
