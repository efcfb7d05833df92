"""The shared register table pinned to literal numbers typed from the datasheet (RM-MPU-6000A rev 4.2,
PS-MPU-6000A rev 3.4), so a mistake cannot hide in a table that the driver and the emulator both read."""
from __future__ import annotations

import pytest

from hal import mpu6050_registers as R

# (name, address) from RM §3 "Register Map", typed by hand.
DATASHEET_ADDRESSES = [
    ("SELF_TEST_X", 13), ("SELF_TEST_Y", 14), ("SELF_TEST_Z", 15), ("SELF_TEST_A", 16),
    ("SMPLRT_DIV", 25), ("CONFIG", 26), ("GYRO_CONFIG", 27), ("ACCEL_CONFIG", 28), ("MOT_THR", 31),
    ("FIFO_EN", 35), ("I2C_MST_STATUS", 54), ("INT_PIN_CFG", 55), ("INT_ENABLE", 56), ("INT_STATUS", 58),
    ("ACCEL_XOUT_H", 59), ("ACCEL_XOUT_L", 60), ("ACCEL_YOUT_H", 61), ("ACCEL_YOUT_L", 62),
    ("ACCEL_ZOUT_H", 63), ("ACCEL_ZOUT_L", 64), ("TEMP_OUT_H", 65), ("TEMP_OUT_L", 66),
    ("GYRO_XOUT_H", 67), ("GYRO_XOUT_L", 68), ("GYRO_YOUT_H", 69), ("GYRO_YOUT_L", 70),
    ("GYRO_ZOUT_H", 71), ("GYRO_ZOUT_L", 72), ("EXT_SENS_DATA_00", 73), ("EXT_SENS_DATA_23", 96),
    ("SIGNAL_PATH_RESET", 104), ("MOT_DETECT_CTRL", 105),
    ("USER_CTRL", 106), ("PWR_MGMT_1", 107), ("PWR_MGMT_2", 108), ("FIFO_COUNTH", 114), ("FIFO_COUNTL", 115),
    ("FIFO_R_W", 116), ("WHO_AM_I", 117),
]

# (field, register address, bit numbers) from RM §4, typed by hand as bit positions, not masks.
DATASHEET_FIELDS = [
    ("CONFIG_EXT_SYNC_SET", 26, [5, 4, 3]), ("CONFIG_DLPF_CFG", 26, [2, 1, 0]),
    ("GYRO_CONFIG_XG_ST", 27, [7]), ("GYRO_CONFIG_YG_ST", 27, [6]), ("GYRO_CONFIG_ZG_ST", 27, [5]),
    ("GYRO_CONFIG_FS_SEL", 27, [4, 3]),
    ("ACCEL_CONFIG_XA_ST", 28, [7]), ("ACCEL_CONFIG_YA_ST", 28, [6]), ("ACCEL_CONFIG_ZA_ST", 28, [5]),
    ("ACCEL_CONFIG_AFS_SEL", 28, [4, 3]),
    ("FIFO_EN_TEMP", 35, [7]), ("FIFO_EN_XG", 35, [6]), ("FIFO_EN_YG", 35, [5]), ("FIFO_EN_ZG", 35, [4]),
    ("FIFO_EN_ACCEL", 35, [3]),
    ("INT_PIN_CFG_INT_RD_CLEAR", 55, [4]), ("INT_ENABLE_FIFO_OFLOW_EN", 56, [4]), ("INT_ENABLE_DATA_RDY_EN", 56, [0]),
    ("INT_STATUS_FIFO_OFLOW_INT", 58, [4]), ("INT_STATUS_DATA_RDY_INT", 58, [0]),
    ("SIGNAL_PATH_RESET_GYRO", 104, [2]), ("SIGNAL_PATH_RESET_ACCEL", 104, [1]),
    ("SIGNAL_PATH_RESET_TEMP", 104, [0]),
    ("USER_CTRL_FIFO_EN", 106, [6]), ("USER_CTRL_I2C_MST_EN", 106, [5]), ("USER_CTRL_FIFO_RESET", 106, [2]),
    ("USER_CTRL_SIG_COND_RESET", 106, [0]),
    ("PWR_MGMT_1_DEVICE_RESET", 107, [7]), ("PWR_MGMT_1_SLEEP", 107, [6]), ("PWR_MGMT_1_CYCLE", 107, [5]),
    ("PWR_MGMT_1_TEMP_DIS", 107, [3]), ("PWR_MGMT_1_CLKSEL", 107, [2, 1, 0]),
]


@pytest.mark.parametrize("name, address", DATASHEET_ADDRESSES)
def test_register_address_matches_the_datasheet_when_read_from_the_shared_table(name, address):
    assert getattr(R, name) == address


@pytest.mark.parametrize("name, register, bits", DATASHEET_FIELDS)
def test_bit_field_sits_on_the_datasheet_bits_when_read_from_the_shared_table(name, register, bits):
    field = getattr(R, name)
    assert field.register == register
    assert field.mask == sum(1 << b for b in bits)
    assert field.shift == min(bits)


def test_reset_values_match_the_datasheet_when_the_chip_powers_up():
    assert R.RESET_VALUES == {107: 0x40, 117: 0x68}
    assert R.ADDRESSES == (0x68, 0x69)


def test_read_only_registers_are_the_ones_the_register_map_types_read_only():
    # RM §3: I2C_MST_STATUS, INT_STATUS, ACCEL/TEMP/GYRO_OUT, EXT_SENS_DATA_00..23, FIFO_COUNT_H/L, WHO_AM_I
    assert R.READ_ONLY_REGISTERS == {54, 58, *range(59, 73), *range(73, 97), 114, 115, 117}
    assert R.CLKSEL_STOP == 7


def test_scales_match_the_product_spec_when_converting_counts():
    assert R.ACCEL_RANGES_G == {2: 0, 4: 1, 8: 2, 16: 3}
    assert R.ACCEL_LSB_PER_G == {2: 16384, 4: 8192, 8: 4096, 16: 2048}
    assert R.GYRO_RANGES_DPS == {250: 0, 500: 1, 1000: 2, 2000: 3}
    assert R.GYRO_LSB_PER_DPS == {250: 131, 500: 65.5, 1000: 32.8, 2000: 16.4}


def test_dlpf_table_matches_the_register_map_when_choosing_a_bandwidth():
    assert R.DLPF_BANDWIDTHS_HZ == {260: 0, 184: 1, 94: 2, 44: 3, 21: 4, 10: 5, 5: 6}
    assert [R.gyro_output_rate_hz(cfg) for cfg in range(8)] == [8000, 1000, 1000, 1000, 1000, 1000, 1000, 8000]
    assert R.sample_rate_hz(3, 4) == 200
    assert R.sample_rate_hz(0, 39) == 200


def test_temperature_formula_matches_the_register_map_when_decoding_temp_out():
    assert R.temp_c_from_raw(0) == pytest.approx(36.53)
    assert R.temp_c_from_raw(-340) == pytest.approx(35.53)
    assert R.temp_c_from_raw(-3923) == pytest.approx(-3923 / 340 + 36.53)


def test_factory_trim_formulas_match_the_register_map_when_computing_self_test_limits():
    assert R.accel_factory_trim_lsb(0) == 0
    assert R.accel_factory_trim_lsb(1) == pytest.approx(4096 * 0.34)
    assert R.accel_factory_trim_lsb(31) == pytest.approx(4096 * 0.92)
    assert R.gyro_factory_trim_lsb(1, 0) == pytest.approx(25 * 131)
    assert R.gyro_factory_trim_lsb(1, 1) == pytest.approx(-25 * 131)
    assert R.gyro_factory_trim_lsb(11, 2) == pytest.approx(25 * 131 * 1.046 ** 10)
    assert R.SELF_TEST_LIMIT_PCT == 14


def test_self_test_codes_unpack_from_the_datasheet_bit_layout_when_given_literal_bytes():
    # XA_TEST = 0b10110: bits 4:2 = 0b101 in SELF_TEST_X[7:5], bits 1:0 = 0b10 in SELF_TEST_A[5:4]; XG = 0b00111.
    accel, gyro = R.unpack_self_test_codes((0b101_00111, 0b000_11111, 0b111_00001, 0b00_10_01_11))
    assert accel == (0b10110, 0b00001, 0b11111)
    assert gyro == (0b00111, 0b11111, 0b00001)
    assert R.pack_self_test_codes(accel, gyro) == (0b101_00111, 0b000_11111, 0b111_00001, 0b00_10_01_11)


def test_fifo_geometry_matches_the_product_spec_when_draining_frames():
    assert R.FIFO_CAPACITY_BYTES == 1024
    assert R.FIFO_FRAME_BYTES == 12
    assert R.FIFO_EN_ACCEL_GYRO == 0x78
