"""The emulated bus as a driver meets it: addresses, message rules and limits as on a Raspberry Pi, and its
counters (its SMBus methods are in ``test_emulated_smbus.py``)."""
from __future__ import annotations

import errno

import pytest
from smbus2 import i2c_msg

from hal.emulated import EmulatedI2CBus, EmulatedMpu6050

ADDR = 0x68


def make(fake_clock):
    chip = EmulatedMpu6050(fake_clock)
    return chip, EmulatedI2CBus({ADDR: chip})


def test_unknown_address_fails_like_the_kernel_when_nothing_is_there(fake_clock):
    _, bus = make(fake_clock)
    with pytest.raises(OSError) as info:
        bus.read_byte_data(0x69, 0x75)
    assert info.value.errno == errno.EREMOTEIO


def test_block_read_refuses_more_than_32_bytes_when_asked_like_smbus2(fake_clock):
    _, bus = make(fake_clock)
    with pytest.raises(ValueError):
        bus.read_i2c_block_data(ADDR, 0x74, 33)


def test_combined_transfer_refuses_a_read_before_the_last_message_like_the_pi_controller(fake_clock):
    _, bus = make(fake_clock)
    msgs = [i2c_msg.write(ADDR, [0x3A]), i2c_msg.read(ADDR, 1), i2c_msg.write(ADDR, [0x72]), i2c_msg.read(ADDR, 2)]
    with pytest.raises(OSError) as info:
        bus.i2c_rdwr(*msgs)
    assert info.value.errno == errno.EOPNOTSUPP


def test_bus_counts_transactions_and_bytes_when_transfers_happen(fake_clock):
    _, bus = make(fake_clock)
    bus.read_byte_data(ADDR, 0x75)
    bus.write_byte_data(ADDR, 0x6B, 0)
    bus.i2c_rdwr(i2c_msg.write(ADDR, [0x3B]), i2c_msg.read(ADDR, 14))
    assert (bus.transactions, bus.bytes, bus.messages) == (3, 2 + 2 + 15, 2 + 1 + 2)


def test_closed_bus_refuses_transfers_when_used_after_close(fake_clock):
    _, bus = make(fake_clock)
    bus.close()
    with pytest.raises(OSError) as info:
        bus.read_byte_data(ADDR, 0x75)
    assert info.value.errno == errno.EBADF
