"""The emulated MPU-6050 against the register map (RM-MPU-6000A rev 4.2) where a driver could lean on the
difference: each test drives the chip with literal datasheet addresses and bits, not through our driver."""
from __future__ import annotations

import numpy as np
from smbus2 import i2c_msg

from hal.emulated import ArrayMotion, EmulatedI2CBus, EmulatedMpu6050

ADDR = 0x68


def make(fake_clock, motion=None):
    chip = EmulatedMpu6050(fake_clock, motion=motion)
    return chip, EmulatedI2CBus({ADDR: chip})


def start_fifo(bus, dlpf_cfg, smplrt_div):
    bus.write_byte_data(ADDR, 0x6B, 0x01)   # awake, X gyro PLL
    bus.write_byte_data(ADDR, 0x1A, dlpf_cfg)
    bus.write_byte_data(ADDR, 0x19, smplrt_div)
    bus.write_byte_data(ADDR, 0x23, 0x78)   # accel + gyro into the FIFO
    bus.write_byte_data(ADDR, 0x6A, 0x44)   # FIFO enable + FIFO reset


def drain(bus, nbytes):
    write, read = i2c_msg.write(ADDR, [0x74]), i2c_msg.read(ADDR, nbytes)
    bus.i2c_rdwr(write, read)
    return np.frombuffer(bytes(read), dtype=">i2").reshape(-1, 6)


def test_fifo_count_low_byte_read_alone_keeps_the_last_latched_count_when_the_fifo_fills(fake_clock):
    # RM §4.30: both count registers load when FIFO_COUNT_H is read; FIFO_COUNT_L alone does not update them.
    _, bus = make(fake_clock)
    start_fifo(bus, 0x03, 4)                # 200 Hz
    fake_clock.advance(0.101)               # 20 frames = 240 bytes
    assert bus.read_byte_data(ADDR, 0x73) == 0   # never latched since power-on
    assert bus.read_i2c_block_data(ADDR, 0x72, 2) == [0, 240]
    fake_clock.advance(0.1)                 # 20 more frames: 480 bytes
    assert bus.read_byte_data(ADDR, 0x73) == 240
    assert bus.read_byte_data(ADDR, 0x73) == 240
    assert bus.read_i2c_block_data(ADDR, 0x72, 2) == [480 >> 8, 480 & 0xFF]


def test_accelerometer_repeats_each_1khz_sample_when_the_sample_rate_is_8khz(fake_clock):
    # RM §4.2: with the DLPF off the gyro outputs 8 kHz, the accelerometer 1 kHz: the same accel sample is
    # output (to the FIFO and the data registers) more than once.
    t_s = np.array([0.0, 1.0])
    ramp = ArrayMotion(t_s, [[0.0, 0.0, 1.0], [1.0, 0.0, 1.0]], [[0.0, 0.0, 0.0], [1000.0, 0.0, 0.0]])
    _, bus = make(fake_clock, motion=ramp)
    start_fifo(bus, 0x00, 0)                # DLPF off, SMPLRT_DIV 0: 8 kHz
    fake_clock.advance(0.0101)              # 80 frames = 960 bytes
    frames = drain(bus, 960)
    accel_x, gyro_x = frames[:, 0], frames[:, 3]
    assert np.all(np.diff(gyro_x) > 0)      # the gyro moves on every sample
    runs = np.diff(np.flatnonzero(np.diff(accel_x)))
    assert len(runs) >= 8 and np.all(runs == 8)   # the accelerometer once every 8 samples


def test_accelerometer_is_fresh_every_sample_when_the_sample_rate_is_1khz(fake_clock):
    t_s = np.array([0.0, 1.0])
    ramp = ArrayMotion(t_s, [[0.0, 0.0, 1.0], [1.0, 0.0, 1.0]], [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    _, bus = make(fake_clock, motion=ramp)
    start_fifo(bus, 0x03, 0)                # DLPF 44 Hz: 1 kHz
    fake_clock.advance(0.0501)
    accel_x = drain(bus, 600)[:, 0]
    assert np.all(np.diff(accel_x) > 0)


def test_int_status_survives_other_reads_when_int_rd_clear_is_0(fake_clock):
    _, bus = make(fake_clock)
    bus.write_byte_data(ADDR, 0x6B, 0x01)
    fake_clock.advance(0.01)
    bus.read_i2c_block_data(ADDR, 0x3B, 14)          # data registers: not INT_STATUS
    assert bus.read_byte_data(ADDR, 0x3A) & 0x01      # DATA_RDY still set ...
    assert bus.read_byte_data(ADDR, 0x3A) == 0        # ... until INT_STATUS itself was read


def test_any_read_clears_int_status_when_int_rd_clear_is_1(fake_clock):
    # RM §4.14: INT_PIN_CFG bit 4 INT_RD_CLEAR = 1 clears the interrupt status bits on any read operation.
    _, bus = make(fake_clock)
    bus.write_byte_data(ADDR, 0x37, 0x10)
    bus.write_byte_data(ADDR, 0x6B, 0x01)
    fake_clock.advance(0.01)
    bus.read_byte_data(ADDR, 0x75)
    assert bus.read_byte_data(ADDR, 0x3A) == 0
    fake_clock.advance(0.01)
    assert bus.read_byte_data(ADDR, 0x3A) & 0x01      # a new sample sets it again; reading it reports it


def test_master_status_and_external_sensor_data_ignore_writes_when_written(fake_clock):
    # RM §4.13 I2C_MST_STATUS (0x36) and §4.20 EXT_SENS_DATA_00..23 (0x49-0x60) are "Read Only".
    _, bus = make(fake_clock)
    bus.write_byte_data(ADDR, 0x36, 0xFF)
    bus.write_i2c_block_data(ADDR, 0x49, [0xA5] * 24)
    assert bus.read_byte_data(ADDR, 0x36) == 0
    assert bus.read_i2c_block_data(ADDR, 0x49, 24) == [0] * 24


def test_clksel_7_stops_sampling_until_a_clock_is_selected_again(fake_clock):
    # RM §4.28: CLKSEL = 7 "stops the clock and keeps the timing generator in reset".
    _, bus = make(fake_clock)
    start_fifo(bus, 0x03, 4)
    bus.write_byte_data(ADDR, 0x6B, 0x07)
    bus.read_byte_data(ADDR, 0x3A)
    fake_clock.advance(0.5)
    assert bus.read_byte_data(ADDR, 0x3A) == 0                  # no DATA_RDY
    assert bus.read_i2c_block_data(ADDR, 0x72, 2) == [0, 0]     # nothing into the FIFO
    assert bus.read_i2c_block_data(ADDR, 0x3B, 6) == [0] * 6    # data registers never written
    bus.write_byte_data(ADDR, 0x6B, 0x01)
    fake_clock.advance(0.0501)
    assert bus.read_i2c_block_data(ADDR, 0x72, 2) == [0, 120]   # 10 frames at 200 Hz
