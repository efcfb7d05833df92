"""The emulated bus offers all of ``smbus2.SMBus`` and answers each call as a Raspberry Pi with an MPU-6050
would (literal datasheet addresses; the kernel's SMBus emulation on the Pi's i2c-bcm2835)."""
from __future__ import annotations

import errno
import inspect

import pytest
import smbus2

from hal.emulated import EmulatedI2CBus, EmulatedMpu6050

ADDR = 0x68


def public_api(cls):
    """name -> [(parameter, kind, default)] for methods, "property" for properties."""
    api = {}
    for name, member in inspect.getmembers(cls):
        if name.startswith("_"):
            continue
        if isinstance(member, property):
            api[name] = "property"
        elif callable(member):
            api[name] = [(p.name, p.kind, p.default) for p in inspect.signature(member).parameters.values()]
    return api


@pytest.fixture
def bus(fake_clock):
    return EmulatedI2CBus({ADDR: EmulatedMpu6050(fake_clock)})


def test_emulated_bus_has_every_public_method_of_smbus2_with_its_signature():
    theirs, ours = public_api(smbus2.SMBus), public_api(EmulatedI2CBus)
    missing = sorted(set(theirs) - set(ours))
    assert not missing, f"EmulatedI2CBus lacks smbus2.SMBus.{missing}"
    assert {name: ours[name] for name in theirs} == theirs
    assert len(theirs) >= 18


def test_functionality_bits_say_what_the_pi_controller_says_when_asked():
    funcs = smbus2.I2cFunc(EmulatedI2CBus({}).funcs)
    assert funcs & smbus2.I2cFunc.I2C and funcs & smbus2.I2cFunc.SMBUS_WORD_DATA
    assert not funcs & smbus2.I2cFunc.SMBUS_READ_BLOCK_DATA
    assert not funcs & smbus2.I2cFunc.SMBUS_BLOCK_PROC_CALL


def test_send_byte_sets_the_register_pointer_and_receive_byte_reads_from_it(bus):
    bus.write_byte(ADDR, 0x75, force=True)
    assert bus.read_byte(ADDR) == 0x68
    bus.write_byte(ADDR, 0x6B)
    assert bus.read_byte(ADDR, force=False) == 0x40


def test_words_travel_low_byte_first_so_big_endian_registers_read_swapped(bus):
    bus.write_word_data(ADDR, 0x19, 0x0304)          # SMPLRT_DIV = 0x04, CONFIG = 0x03
    assert bus.read_i2c_block_data(ADDR, 0x19, 2) == [0x04, 0x03]
    assert bus.read_word_data(ADDR, 0x19) == 0x0304
    bus.write_byte_data(ADDR, 0x1B, 0x18)            # GYRO_CONFIG
    assert bus.process_call(ADDR, 0x19, 0x0304) == 0x0018   # read on from GYRO_CONFIG, ACCEL_CONFIG


def test_block_write_stores_the_count_byte_first_like_any_byte(bus):
    bus.write_block_data(ADDR, 0x19, [0x03, 0x18])
    assert bus.read_i2c_block_data(ADDR, 0x19, 3) == [2, 0x03, 0x18]
    with pytest.raises(ValueError):
        bus.write_block_data(ADDR, 0x19, [0] * 33)


@pytest.mark.parametrize("call", [lambda b: b.read_block_data(ADDR, 0x3B),
                                  lambda b: b.block_process_call(ADDR, 0x3B, [1, 2])])
def test_smbus_block_reads_are_refused_when_the_pi_controller_cannot_do_them(bus, call):
    with pytest.raises(OSError) as info:
        call(bus)
    assert info.value.errno == errno.EOPNOTSUPP
    assert bus.transactions == 0


def test_quick_command_is_acknowledged_and_changes_nothing(bus):
    bus.write_quick(ADDR)
    assert bus.read_byte_data(ADDR, 0x6B) == 0x40
    with pytest.raises(OSError) as info:
        bus.write_quick(0x69)                        # nothing there: NACK
    assert info.value.errno == errno.EREMOTEIO


def test_pec_reads_fail_because_the_chip_sends_its_next_register_instead(bus):
    bus.enable_pec()
    assert bus.pec == 1
    with pytest.raises(OSError) as info:
        bus.read_byte_data(ADDR, 0x75)               # the "PEC" is register 0x76 (0), not the CRC
    assert info.value.errno == errno.EBADMSG
    bus.write_byte_data(ADDR, 0x19, 4)               # the CRC lands in CONFIG, the next register
    bus.pec = 0
    assert bus.read_i2c_block_data(ADDR, 0x19, 2)[1] != 0
    assert bus.read_byte_data(ADDR, 0x75) == 0x68


def test_closed_bus_works_again_when_reopened(bus):
    bus.close()
    with pytest.raises(OSError):
        bus.read_byte(ADDR)
    bus.open(1)
    assert bus.read_byte_data(ADDR, 0x75) == 0x68
