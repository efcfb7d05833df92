"""The MPU-6050 register map as data, declared once and read by both the driver and the emulated chip.

Source: InvenSense "MPU-6000 and MPU-6050 Register Map and Descriptions", RM-MPU-6000A-00 rev 4.2
(cited as RM §<section>), and the "MPU-6000 and MPU-6050 Product Specification" PS-MPU-6000A-00 rev 3.4
(cited as PS §<section>). ``tests/hal/test_mpu6050_registers.py`` pins every number here to the literal
values typed from those documents, so a mistake cannot hide in a table that driver and emulator share.

A bit field is a :class:`Field`: the register it lives in and its mask (the shift follows from the mask),
so a field is never written by hand twice (the wrong-bit DLPF field in Adafruit's driver is the lesson).
"""
from __future__ import annotations

from typing import Dict, Tuple

from .registers import Field  # noqa: F401 (the MPU-6050's fields are Fields)


# ---- register addresses (RM §3, "Register Map") -------------------------------------------------------------
SELF_TEST_X = 0x0D
SELF_TEST_Y = 0x0E
SELF_TEST_Z = 0x0F
SELF_TEST_A = 0x10
SMPLRT_DIV = 0x19
CONFIG = 0x1A
GYRO_CONFIG = 0x1B
ACCEL_CONFIG = 0x1C
MOT_THR = 0x1F
FIFO_EN = 0x23
I2C_MST_STATUS = 0x36
INT_PIN_CFG = 0x37
INT_ENABLE = 0x38
INT_STATUS = 0x3A
ACCEL_XOUT_H = 0x3B
ACCEL_XOUT_L = 0x3C
ACCEL_YOUT_H = 0x3D
ACCEL_YOUT_L = 0x3E
ACCEL_ZOUT_H = 0x3F
ACCEL_ZOUT_L = 0x40
TEMP_OUT_H = 0x41
TEMP_OUT_L = 0x42
GYRO_XOUT_H = 0x43
GYRO_XOUT_L = 0x44
GYRO_YOUT_H = 0x45
GYRO_YOUT_L = 0x46
GYRO_ZOUT_H = 0x47
GYRO_ZOUT_L = 0x48
EXT_SENS_DATA_00 = 0x49
EXT_SENS_DATA_23 = 0x60
SIGNAL_PATH_RESET = 0x68
MOT_DETECT_CTRL = 0x69
USER_CTRL = 0x6A
PWR_MGMT_1 = 0x6B
PWR_MGMT_2 = 0x6C
FIFO_COUNTH = 0x72
FIFO_COUNTL = 0x73
FIFO_R_W = 0x74
WHO_AM_I = 0x75

REGISTER_FILE_SIZE = 0x80
"""Addresses 0x00..0x7F; the emulator keeps one byte for each."""

DATA_REGISTERS = range(ACCEL_XOUT_H, GYRO_ZOUT_L + 1)
"""The 14 sensor output bytes: accel X/Y/Z, temperature, gyro X/Y/Z, each big-endian int16 (RM §4.17-4.19)."""
DATA_BURST_LENGTH = len(DATA_REGISTERS)

EXT_SENS_DATA_REGISTERS = range(EXT_SENS_DATA_00, EXT_SENS_DATA_23 + 1)
"""What the auxiliary I2C master read from external sensors (RM §4.20); this project leaves the master off."""

READ_ONLY_REGISTERS = frozenset([I2C_MST_STATUS, INT_STATUS, *DATA_REGISTERS, *EXT_SENS_DATA_REGISTERS,
                                 FIFO_COUNTH, FIFO_COUNTL, WHO_AM_I])
"""Registers the register map types "Read Only" (RM §3, §4.13, §4.16-4.20, §4.30, §4.32): writes change nothing."""

# ---- reset values (RM §3: "The reset value is 0x00 for all registers other than ... PWR_MGMT_1 (0x40) and
# WHO_AM_I (0x68)") ----------------------------------------------------------------------------------------------
PWR_MGMT_1_RESET_VALUE = 0x40
WHO_AM_I_VALUE = 0x68
RESET_VALUES: Dict[int, int] = {PWR_MGMT_1: PWR_MGMT_1_RESET_VALUE, WHO_AM_I: WHO_AM_I_VALUE}
"""Registers whose reset value is not 0x00 (the self-test trim registers hold factory values instead)."""
ADDRESSES = (0x68, 0x69)
"""I2C address with the AD0 pin low / high (PS §9.2)."""

# ---- bit fields --------------------------------------------------------------------------------------------------
# SELF_TEST_X/Y/Z: XA_TEST[4:2] in bits 7:5, XG_TEST[4:0] in bits 4:0; SELF_TEST_A: XA_TEST[1:0] bits 5:4,
# YA_TEST[1:0] bits 3:2, ZA_TEST[1:0] bits 1:0 (RM §4.1).
SELF_TEST_A_HIGH_MASK = 0xE0
SELF_TEST_G_MASK = 0x1F
SELF_TEST_A_LOW_MASKS = (0x30, 0x0C, 0x03)

CONFIG_EXT_SYNC_SET = Field(CONFIG, 0x38)
CONFIG_DLPF_CFG = Field(CONFIG, 0x07)

GYRO_CONFIG_XG_ST = Field(GYRO_CONFIG, 0x80)
GYRO_CONFIG_YG_ST = Field(GYRO_CONFIG, 0x40)
GYRO_CONFIG_ZG_ST = Field(GYRO_CONFIG, 0x20)
GYRO_CONFIG_FS_SEL = Field(GYRO_CONFIG, 0x18)

ACCEL_CONFIG_XA_ST = Field(ACCEL_CONFIG, 0x80)
ACCEL_CONFIG_YA_ST = Field(ACCEL_CONFIG, 0x40)
ACCEL_CONFIG_ZA_ST = Field(ACCEL_CONFIG, 0x20)
ACCEL_CONFIG_AFS_SEL = Field(ACCEL_CONFIG, 0x18)

SELF_TEST_ENABLE_BITS = 0xE0
"""XA/YA/ZA_ST in ACCEL_CONFIG and XG/YG/ZG_ST in GYRO_CONFIG: bits 7:5 of each."""

FIFO_EN_TEMP = Field(FIFO_EN, 0x80)
FIFO_EN_XG = Field(FIFO_EN, 0x40)
FIFO_EN_YG = Field(FIFO_EN, 0x20)
FIFO_EN_ZG = Field(FIFO_EN, 0x10)
FIFO_EN_ACCEL = Field(FIFO_EN, 0x08)
FIFO_EN_SLV2 = Field(FIFO_EN, 0x04)
FIFO_EN_SLV1 = Field(FIFO_EN, 0x02)
FIFO_EN_SLV0 = Field(FIFO_EN, 0x01)

INT_PIN_CFG_INT_RD_CLEAR = Field(INT_PIN_CFG, 0x10)
"""RM §4.14: 1 = any read clears INT_STATUS; 0 (reset) = only reading INT_STATUS clears it."""

INT_ENABLE_FIFO_OFLOW_EN = Field(INT_ENABLE, 0x10)
INT_ENABLE_I2C_MST_INT_EN = Field(INT_ENABLE, 0x08)
INT_ENABLE_DATA_RDY_EN = Field(INT_ENABLE, 0x01)

INT_STATUS_FIFO_OFLOW_INT = Field(INT_STATUS, 0x10)
INT_STATUS_I2C_MST_INT = Field(INT_STATUS, 0x08)
INT_STATUS_DATA_RDY_INT = Field(INT_STATUS, 0x01)

SIGNAL_PATH_RESET_GYRO = Field(SIGNAL_PATH_RESET, 0x04)
SIGNAL_PATH_RESET_ACCEL = Field(SIGNAL_PATH_RESET, 0x02)
SIGNAL_PATH_RESET_TEMP = Field(SIGNAL_PATH_RESET, 0x01)

USER_CTRL_FIFO_EN = Field(USER_CTRL, 0x40)
USER_CTRL_I2C_MST_EN = Field(USER_CTRL, 0x20)
USER_CTRL_I2C_IF_DIS = Field(USER_CTRL, 0x10)
USER_CTRL_FIFO_RESET = Field(USER_CTRL, 0x04)
USER_CTRL_I2C_MST_RESET = Field(USER_CTRL, 0x02)
USER_CTRL_SIG_COND_RESET = Field(USER_CTRL, 0x01)

PWR_MGMT_1_DEVICE_RESET = Field(PWR_MGMT_1, 0x80)
PWR_MGMT_1_SLEEP = Field(PWR_MGMT_1, 0x40)
PWR_MGMT_1_CYCLE = Field(PWR_MGMT_1, 0x20)
PWR_MGMT_1_TEMP_DIS = Field(PWR_MGMT_1, 0x08)
PWR_MGMT_1_CLKSEL = Field(PWR_MGMT_1, 0x07)

PWR_MGMT_2_LP_WAKE_CTRL = Field(PWR_MGMT_2, 0xC0)
PWR_MGMT_2_STBY = Field(PWR_MGMT_2, 0x3F)

WHO_AM_I_FIELD = Field(WHO_AM_I, 0x7E)
"""Bits 6:1 hold the upper six bits of the 7-bit address; bits 0 and 7 are reserved (RM §4.32)."""

# ---- field values ------------------------------------------------------------------------------------------------
CLKSEL_INTERNAL_8MHZ = 0
CLKSEL_PLL_X_GYRO = 1
"""The register map recommends a gyro PLL over the internal oscillator for stability (RM §4.28)."""
CLKSEL_STOP = 7
"""RM §4.28: "Stops the clock and keeps the timing generator in reset": no samples until another source."""

FIFO_EN_ACCEL_GYRO = (FIFO_EN_ACCEL.mask | FIFO_EN_XG.mask | FIFO_EN_YG.mask | FIFO_EN_ZG.mask)
FIFO_CAPACITY_BYTES = 1024
"""PS §7.17: a 1024-byte FIFO."""
FIFO_FRAME_BYTES = 12
"""Accel X/Y/Z then gyro X/Y/Z, two bytes each: the FIFO writes enabled sensors in register order (RM §4.31)."""

# ---- scales (PS §6.1, §6.2; RM §4.4, §4.5) -----------------------------------------------------------------------
ACCEL_RANGES_G: Dict[int, int] = {2: 0, 4: 1, 8: 2, 16: 3}
"""Full-scale range in ±g -> AFS_SEL code."""
ACCEL_LSB_PER_G: Dict[int, float] = {2: 16384.0, 4: 8192.0, 8: 4096.0, 16: 2048.0}
GYRO_RANGES_DPS: Dict[int, int] = {250: 0, 500: 1, 1000: 2, 2000: 3}
"""Full-scale range in ±°/s -> FS_SEL code."""
GYRO_LSB_PER_DPS: Dict[int, float] = {250: 131.0, 500: 65.5, 1000: 32.8, 2000: 16.4}

# ---- digital low-pass filter (RM §4.3) -----------------------------------------------------------------------------
# DLPF_CFG -> (accel bandwidth Hz, gyro bandwidth Hz, gyro output rate Hz). 7 is reserved (treated as 0).
DLPF_TABLE: Dict[int, Tuple[int, int, int]] = {
    0: (260, 256, 8000),
    1: (184, 188, 1000),
    2: (94, 98, 1000),
    3: (44, 42, 1000),
    4: (21, 20, 1000),
    5: (10, 10, 1000),
    6: (5, 5, 1000),
    7: (0, 0, 8000),
}
DLPF_BANDWIDTHS_HZ: Dict[int, int] = {bw: cfg for cfg, (bw, _gyro, _rate) in DLPF_TABLE.items() if cfg != 7}
"""Accelerometer bandwidth in Hz (the user's ``dlpf_hz``) -> DLPF_CFG code; 260 Hz means the filter is off."""
ACCEL_MAX_OUTPUT_RATE_HZ = 1000
"""RM §4.2: "the accelerometer output rate is 1kHz": above it the same accel sample is output more than once."""


def gyro_output_rate_hz(dlpf_cfg: int) -> int:
    """The rate SMPLRT_DIV divides: 8 kHz with the DLPF off (0 or 7), 1 kHz with it on (RM §4.2)."""
    return DLPF_TABLE[dlpf_cfg & 0x07][2]


def sample_rate_hz(dlpf_cfg: int, smplrt_div: int) -> float:
    """RM §4.2: Sample Rate = Gyroscope Output Rate / (1 + SMPLRT_DIV)."""
    return gyro_output_rate_hz(dlpf_cfg) / (1 + (smplrt_div & 0xFF))


# ---- temperature (RM §4.18) ---------------------------------------------------------------------------------------
TEMP_LSB_PER_C = 340.0
TEMP_OFFSET_C = 36.53


def temp_c_from_raw(raw: int) -> float:
    """Temperature in °C = TEMP_OUT (signed) / 340 + 36.53."""
    return raw / TEMP_LSB_PER_C + TEMP_OFFSET_C


# ---- self-test (RM §4.1, PS §6.1/6.2) ------------------------------------------------------------------------------
SELF_TEST_ACCEL_RANGE_G = 8
"""The accelerometer self-test is specified at ±8 g ..."""
SELF_TEST_GYRO_RANGE_DPS = 250
"""... and the gyro self-test at ±250 °/s."""
SELF_TEST_LIMIT_PCT = 14.0
"""PS §6.1/6.2: the self-test response must be within ±14 % of the factory trim."""
GYRO_TRIM_SIGNS = (1.0, -1.0, 1.0)
"""RM §4.1: FT[Yg] is the negative of the X/Z formula."""


def accel_factory_trim_lsb(code: int) -> float:
    """FT[Xa/Ya/Za] = 4096 * 0.34 * (0.92 / 0.34) ** ((A_TEST - 1) / (2**5 - 2)), 0 when A_TEST is 0."""
    if code == 0:
        return 0.0
    return 4096.0 * 0.34 * (0.92 / 0.34) ** ((code - 1) / (2 ** 5 - 2))


def gyro_factory_trim_lsb(code: int, axis: int) -> float:
    """FT[Xg] = 25 * 131 * 1.046 ** (G_TEST - 1), FT[Yg] = the same negated, FT[Zg] as X; 0 when G_TEST is 0."""
    if code == 0:
        return 0.0
    return GYRO_TRIM_SIGNS[axis] * 25.0 * 131.0 * 1.046 ** (code - 1)


def unpack_self_test_codes(self_test_bytes: Tuple[int, int, int, int]) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """(accel codes x/y/z, gyro codes x/y/z), 5 bits each, from SELF_TEST_X, _Y, _Z and _A (RM §4.1)."""
    x, y, z, a = self_test_bytes
    accel = tuple(((reg & SELF_TEST_A_HIGH_MASK) >> 3) | ((a & low) >> (4 - 2 * i))
                  for i, (reg, low) in enumerate(zip((x, y, z), SELF_TEST_A_LOW_MASKS)))
    gyro = tuple(reg & SELF_TEST_G_MASK for reg in (x, y, z))
    return accel, gyro


def pack_self_test_codes(accel: Tuple[int, int, int], gyro: Tuple[int, int, int]) -> Tuple[int, int, int, int]:
    """The inverse of :func:`unpack_self_test_codes` (the emulator stores its factory trim this way)."""
    regs = [((a >> 2) << 5) | (g & SELF_TEST_G_MASK) for a, g in zip(accel, gyro)]
    low = 0
    for i, a in enumerate(accel):
        low |= (a & 0x03) << (4 - 2 * i)
    return regs[0], regs[1], regs[2], low


REGISTER_NAMES: Dict[int, str] = {
    value: name for name, value in sorted(globals().items())
    if name.isupper() and isinstance(value, int) and not isinstance(value, bool)
    and 0 <= value < REGISTER_FILE_SIZE and name not in (
        "PWR_MGMT_1_RESET_VALUE", "WHO_AM_I_VALUE", "REGISTER_FILE_SIZE", "DATA_BURST_LENGTH",
        "FIFO_FRAME_BYTES", "CLKSEL_INTERNAL_8MHZ", "CLKSEL_PLL_X_GYRO", "CLKSEL_STOP", "SELF_TEST_G_MASK",
        "SELF_TEST_ACCEL_RANGE_G", "SELF_TEST_GYRO_RANGE_DPS", "SELF_TEST_ENABLE_BITS",
        "SELF_TEST_A_HIGH_MASK", "FIFO_EN_ACCEL_GYRO")
}
"""Address -> datasheet name, for error messages ("register 0x3b (ACCEL_XOUT_H)")."""
