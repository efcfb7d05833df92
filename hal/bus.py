"""The I2C bus as the driver sees it, and the one place that opens a real one.

``smbus2.SMBus`` satisfies :class:`I2CBus` structurally, and so does ``hal.emulated.EmulatedI2CBus``.
"""
from __future__ import annotations

import errno
import os
from typing import Any, Callable, List, Optional, Protocol, Sequence

from smbus2 import I2cFunc, SMBus, i2c_msg  # the only smbus2 import in the project

from .clock import Clock, MonotonicClock
from .errors import RetrowalkError, SensorNotFound

__all__ = ["I2CBus", "I2cFunc", "i2c_msg", "open_i2c_bus", "retry_transfer", "errno_text", "BusDevice"]


class I2CBus(Protocol):
    """The part of ``smbus2.SMBus`` the drivers use (MPU-6050, INA219)."""

    def read_byte_data(self, i2c_addr: int, register: int) -> int: ...

    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None: ...

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> List[int]: ...

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: List[int]) -> None: ...

    def i2c_rdwr(self, *i2c_msgs: i2c_msg) -> None: ...

    def close(self) -> None: ...


def open_i2c_bus(bus_number: int) -> I2CBus:
    """Open ``/dev/i2c-<bus_number>`` with smbus2, with a message that says how to fix a missing bus."""
    path = f"/dev/i2c-{bus_number}"
    try:
        return SMBus(bus_number)
    except FileNotFoundError as exc:
        raise SensorNotFound(
            f"{path} does not exist: enable I2C with 'sudo raspi-config nonint do_i2c 0' "
            f"(or Interface Options > I2C in raspi-config) and reboot, or set [sensor] bus to the bus "
            f"the MPU-6050 is on"
        ) from exc
    except PermissionError as exc:
        raise SensorNotFound(
            f"{path}: permission denied; add the user to the i2c group ('sudo adduser $USER i2c') "
            f"and log in again"
        ) from exc
    except OSError as exc:
        if exc.errno in (errno.ENXIO, errno.ENODEV):
            raise SensorNotFound(f"{path}: {os.strerror(exc.errno)}") from exc
        raise


def errno_text(exc: OSError) -> str:
    """``Remote I/O error (errno 121)``: what a failed transfer says in messages."""
    return f"{os.strerror(exc.errno) if exc.errno else exc} (errno {exc.errno})"


def retry_transfer(action: Callable[..., Any], args: Sequence[Any], *, retries: int, pause: Callable[[], None],
                   fail: Callable[[OSError, int], Exception],
                   retry_errnos: Optional[Sequence[int]] = None) -> Any:
    """Run one transfer, retrying ``OSError`` up to ``retries`` times (``pause()`` between, which also counts
    the retry); then raise ``fail(last error, attempts)``. Errors outside ``retry_errnos`` (when given) and the
    project's own errors pass through at once."""
    attempts = 0
    while True:
        attempts += 1
        try:
            return action(*args)
        except RetrowalkError:
            raise
        except OSError as exc:
            if retry_errnos is not None and exc.errno not in retry_errnos:
                raise
            if attempts > retries:
                raise fail(exc, attempts) from exc
            pause()


class BusDevice:
    """A chip on an I2C bus, as every driver here holds it: the bus, a clock for its waits, a retry count.

    ``owns_bus``: the driver opened the bus itself (``open()``), so closing the driver closes the bus; a bus
    passed in belongs to the caller, who may have other chips on it.
    """

    def __init__(self, bus: I2CBus, clock: Optional[Clock] = None, *, owns_bus: bool = False) -> None:
        self._bus = bus
        self._clock = clock if clock is not None else MonotonicClock()
        self._owns_bus = owns_bus
        self._closed = False
        self.retries = 0

    def close(self) -> None:
        """Idempotent. Closes the bus only if :meth:`open` opened it."""
        if self._closed:
            return
        self._closed = True
        if self._owns_bus:
            self._bus.close()
