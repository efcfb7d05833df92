"""The emulated I2C bus: stands wherever an ``smbus2.SMBus`` would and routes transfers to emulated chips.

The chips on it (``hal.emulated.EmulatedMpu6050``, the gauges of ``hal.emulated_gauges``) only have to take
a transfer's start, its write message and its read message (:class:`EmulatedDevice`); what the kernel makes of
each SMBus call on a Raspberry Pi is in ``hal.emulated_smbus``.
"""
from __future__ import annotations

import ctypes
import errno
import functools
import os
import time
from typing import Any, Dict, Mapping, Optional, Protocol

from .emulated_smbus import SMBusMethods

__all__ = ["EmulatedDevice", "EmulatedI2CBus", "I2C_M_RD", "nack"]

I2C_M_RD = 0x0001
"""The read flag of an ``i2c_msg`` (linux/i2c.h)."""


def nack() -> OSError:
    """What the kernel reports when no device acknowledges its address: ``OSError(EREMOTEIO)``."""
    return OSError(errno.EREMOTEIO, os.strerror(errno.EREMOTEIO))


class EmulatedDevice(Protocol):
    """An emulated chip as the bus sees it."""

    def begin_transfer(self) -> None:
        """A transfer addressed to the chip starts (it may refuse with :func:`nack`)."""
        ...

    def read(self, register: Optional[int], length: int) -> bytes:
        """``length`` bytes from ``register``, or from the chip's register pointer when None."""
        ...

    def write(self, data: bytes) -> None:
        """A write message: the register pointer, then data."""
        ...


def _metered(method: Any) -> Any:
    """Count the CPU time a bus call spends in the emulator (``EmulatedI2CBus.cpu_s``)."""
    @functools.wraps(method)
    def metered(self: "EmulatedI2CBus", *args: Any) -> Any:
        started = time.thread_time()
        try:
            return method(self, *args)
        finally:
            self.cpu_s += time.thread_time() - started
    return metered


class EmulatedI2CBus(SMBusMethods):
    """Stands wherever an ``smbus2.SMBus`` would: routes transfers to emulated chips by address.

    Every public method of ``smbus2.SMBus`` is here with its signature (the SMBus ones in
    ``hal.emulated_smbus``, which says how each reaches the chip on a Raspberry Pi). An unknown address fails
    with ``OSError(EREMOTEIO)`` as the kernel reports a NACK; block transfers refuse more than 32 bytes like
    smbus2; ``i2c_rdwr`` accepts real ``smbus2.i2c_msg`` objects and, like the Raspberry Pi's i2c-bcm2835
    controller, only a read as the last message.

    Counters: ``transactions`` (START ... STOP sequences), ``messages`` (each START or repeated START sends an
    address byte), ``bytes`` (register pointers and data, address bytes not included), ``cpu_s`` (the calling
    thread's CPU time spent inside the emulated bus and chips: a real chip costs the Pi none of it, so
    ``bench/daemon.py`` subtracts it from the daemon's).
    """

    def __init__(self, devices: Mapping[int, EmulatedDevice]) -> None:
        self._devices: Dict[int, EmulatedDevice] = dict(devices)
        self.transactions = 0
        self.messages = 0
        self.bytes = 0
        self.cpu_s = 0.0
        self.closed = False

    def _device(self, address: int) -> EmulatedDevice:
        if self.closed:
            raise OSError(errno.EBADF, "the I2C bus has been closed")
        device = self._devices.get(address)
        if device is None:
            raise nack()
        return device

    def _transaction(self, address: int, messages: int) -> EmulatedDevice:
        self.transactions += 1
        device = self._device(address)
        device.begin_transfer()
        self.messages += messages
        return device

    @_metered
    def _transfer(self, i2c_addr: int, write: bytes, read_len: int) -> bytes:
        """One START ... STOP: a write message (the register pointer, then data), then ``read_len`` bytes read
        after a repeated START (from where the write left the pointer). A quick command is an empty write."""
        device = self._transaction(i2c_addr, int(bool(write) or not read_len) + int(read_len > 0))
        self.bytes += len(write) + read_len
        device.write(write)
        return device.read(None, read_len) if read_len else b""

    def open(self, bus: Any) -> None:
        """Open again after :meth:`close` (``bus`` is the number or path smbus2 takes; there is one bus here)."""
        self.closed = False

    @_metered
    def i2c_rdwr(self, *i2c_msgs: Any) -> None:
        if not i2c_msgs:
            return
        if any(m.flags & I2C_M_RD for m in i2c_msgs[:-1]):
            # i2c-bcm2835: "only one read message supported, has to be last"
            raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))
        self.transactions += 1
        devices = [self._device(m.addr) for m in i2c_msgs]
        for device in dict.fromkeys(devices):
            device.begin_transfer()
        self.messages += len(i2c_msgs)
        for device, msg in zip(devices, i2c_msgs):
            self.bytes += msg.len
            if msg.flags & I2C_M_RD:
                data = device.read(None, msg.len)
                ctypes.memmove(msg.buf, data, msg.len)
            else:
                device.write(ctypes.string_at(msg.buf, msg.len))

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> "EmulatedI2CBus":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
