"""Register bit fields as data, shared by every chip's register map (``mpu6050_registers``, ``ina219_registers``).

A bit field is a :class:`Field`: the register it lives in and its mask (the shift follows from the mask),
so a field is never written by hand twice (the wrong-bit DLPF field in Adafruit's driver is the lesson).
"""
from __future__ import annotations

from typing import NamedTuple


class Field(NamedTuple):
    """A bit field: ``register`` address and ``mask`` of its bits inside that register (``width_bits`` wide:
    8 for the MPU-6050's byte registers, 16 for the INA219's words)."""

    register: int
    mask: int
    width_bits: int = 8

    @property
    def shift(self) -> int:
        """Position of the field's lowest bit."""
        return (self.mask & -self.mask).bit_length() - 1

    def get(self, register_value: int) -> int:
        """The field's value extracted from a whole register value."""
        return (register_value & self.mask) >> self.shift

    def put(self, register_value: int, field_value: int) -> int:
        """``register_value`` with this field replaced by ``field_value`` (checked to fit)."""
        if field_value < 0 or (field_value << self.shift) & ~self.mask:
            raise ValueError(f"{field_value} does not fit the field mask 0x{self.mask:02x} of register "
                             f"0x{self.register:02x}")
        return (register_value & ~self.mask & ((1 << self.width_bits) - 1)) | (field_value << self.shift)
