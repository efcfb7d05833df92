"""The SMBus methods of ``smbus2.SMBus`` for the emulated bus, as a Raspberry Pi would carry them out.

Every method keeps smbus2's name and signature (``force=`` included; no kernel driver ever claims an emulated
address, so forcing changes nothing). Each becomes the I2C messages the Linux kernel sends for it on an adapter
that only speaks plain I2C, as the Pi's i2c-bcm2835 does (i2c-core-smbus.c emulates SMBus on top of it):

* words are sent and received low byte first, so ``read_word_data`` on the MPU-6050's big-endian registers
  answers byte-swapped, as on the real bus;
* ``write_block_data`` sends the count byte before the data, and the chip stores it like any other byte;
* SMBus Block Read and Block Process Call need the adapter to take the length from the first byte it receives
  (I2C_M_RECV_LEN), which i2c-bcm2835 cannot (``i2cdetect -F`` says "no" to both). There a real Pi moves one
  byte and hands back whatever was in the buffer; the emulated bus refuses with ``OSError(EOPNOTSUPP)``
  instead, because no caller can use that answer. ``funcs`` reports the same functionality bits as the Pi;
* with PEC on, the kernel appends a CRC-8 to each SMBus write and reads one byte more to check each SMBus read.
  The MPU-6050 knows nothing of PEC: it stores the CRC in the next register and sends the next register as the
  "PEC", so a read fails with ``OSError(EBADMSG)`` unless that byte happens to match. Quick commands, I2C block
  transfers and ``i2c_rdwr`` never carry PEC.
"""
from __future__ import annotations

import errno
import os
from typing import List, Optional, Sequence

from .bus import I2cFunc

__all__ = ["SMBusMethods", "SMBUS_BLOCK_MAX", "PI_I2C_FUNCS", "smbus_pec"]

SMBUS_BLOCK_MAX = 32
PI_I2C_FUNCS = int(I2cFunc.I2C | I2cFunc.SMBUS_EMUL)
"""What I2C_FUNCS answers for the Pi's i2c-bcm2835: plain I2C plus what the kernel emulates on it."""


def smbus_pec(data: bytes) -> int:
    """SMBus Packet Error Code: CRC-8, polynomial x^8 + x^2 + x + 1, over address bytes and data."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _unsupported(what: str) -> OSError:
    return OSError(errno.EOPNOTSUPP, f"{os.strerror(errno.EOPNOTSUPP)}: the Raspberry Pi's I2C controller "
                                     f"cannot do an SMBus {what} (no I2C_M_RECV_LEN); use read_i2c_block_data")


class SMBusMethods:
    """smbus2.SMBus's transfer methods over one primitive, :meth:`_transfer` (a write message, then a read
    after a repeated START), which the bus class provides."""

    funcs = PI_I2C_FUNCS
    _pec = 0

    def _transfer(self, i2c_addr: int, write: bytes, read_len: int) -> bytes:
        raise NotImplementedError

    def _smbus(self, i2c_addr: int, write: Sequence[int], read_len: int) -> bytes:
        """One SMBus transaction, with its PEC byte when PEC is on."""
        out = bytes(b & 0xFF for b in write)
        if not self._pec:
            return self._transfer(i2c_addr, out, read_len)
        sent = bytes([(i2c_addr << 1) & 0xFF]) + out if out else b""
        if not read_len:
            return self._transfer(i2c_addr, out + bytes([smbus_pec(sent)]), 0)
        data = self._transfer(i2c_addr, out, read_len + 1)
        if data[-1] != smbus_pec(sent + bytes([((i2c_addr << 1) | 1) & 0xFF]) + data[:-1]):
            raise OSError(errno.EBADMSG, os.strerror(errno.EBADMSG))  # as i2c_smbus_check_pec reports it
        return data[:-1]

    @property
    def pec(self) -> int:
        """1 when SMBus transfers carry a Packet Error Code (the kernel's I2C_PEC)."""
        return self._pec

    @pec.setter
    def pec(self, enable: int) -> None:
        self._pec = int(enable)

    def enable_pec(self, enable: bool = True) -> None:
        self.pec = int(enable)

    def write_quick(self, i2c_addr: int, force: Optional[bool] = None) -> None:
        self._transfer(i2c_addr, b"", 0)

    def read_byte(self, i2c_addr: int, force: Optional[bool] = None) -> int:
        """SMBus Receive Byte: one byte from the chip's current register pointer."""
        return self._smbus(i2c_addr, b"", 1)[0]

    def write_byte(self, i2c_addr: int, value: int, force: Optional[bool] = None) -> None:
        """SMBus Send Byte: to an MPU-6050 that one byte is a register address (it moves the pointer)."""
        self._smbus(i2c_addr, [value], 0)

    def read_byte_data(self, i2c_addr: int, register: int, force: Optional[bool] = None) -> int:
        return self._smbus(i2c_addr, [register], 1)[0]

    def write_byte_data(self, i2c_addr: int, register: int, value: int, force: Optional[bool] = None) -> None:
        self._smbus(i2c_addr, [register, value], 0)

    def read_word_data(self, i2c_addr: int, register: int, force: Optional[bool] = None) -> int:
        low, high = self._smbus(i2c_addr, [register], 2)
        return low | high << 8

    def write_word_data(self, i2c_addr: int, register: int, value: int, force: Optional[bool] = None) -> None:
        self._smbus(i2c_addr, [register, value & 0xFF, (value >> 8) & 0xFF], 0)

    def process_call(self, i2c_addr: int, register: int, value: int, force: Optional[bool] = None) -> int:
        """Write a word, read a word after a repeated START (the MPU-6050 answers from where the write left
        its pointer: two registers on)."""
        low, high = self._smbus(i2c_addr, [register, value & 0xFF, (value >> 8) & 0xFF], 2)
        return low | high << 8

    def read_block_data(self, i2c_addr: int, register: int, force: Optional[bool] = None) -> List[int]:
        raise _unsupported("Block Read")

    def write_block_data(self, i2c_addr: int, register: int, data: Sequence[int],
                         force: Optional[bool] = None) -> None:
        if len(data) > SMBUS_BLOCK_MAX:
            raise ValueError(f"Data length cannot exceed {SMBUS_BLOCK_MAX} bytes")
        self._smbus(i2c_addr, [register, len(data), *data], 0)

    def block_process_call(self, i2c_addr: int, register: int, data: Sequence[int],
                           force: Optional[bool] = None) -> List[int]:
        if len(data) > SMBUS_BLOCK_MAX:
            raise ValueError(f"Data length cannot exceed {SMBUS_BLOCK_MAX} bytes")
        raise _unsupported("Block Process Call")

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int,
                            force: Optional[bool] = None) -> List[int]:
        if length > SMBUS_BLOCK_MAX:
            raise ValueError(f"Desired block length over {SMBUS_BLOCK_MAX} bytes")
        return list(self._transfer(i2c_addr, bytes([register & 0xFF]), length))

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: Sequence[int],
                             force: Optional[bool] = None) -> None:
        if len(data) > SMBUS_BLOCK_MAX:
            raise ValueError(f"Data length cannot exceed {SMBUS_BLOCK_MAX} bytes")
        self._transfer(i2c_addr, bytes([register & 0xFF, *[d & 0xFF for d in data]]), 0)
