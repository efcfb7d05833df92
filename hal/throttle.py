"""The Raspberry Pi firmware's power and heat flags (``get_throttled``): under-voltage and throttling.

The firmware keeps one word of flags (bits 0-3: now; bits 16-19: has occurred since boot). Pi OS offers it
as ``/sys/devices/platform/soc/soc:firmware/get_throttled`` (hex digits; kernel 5.x and later) and through
``vcgencmd get_throttled`` (``throttled=0x50005``). :func:`open_throttle_source` picks whichever exists;
off a Pi neither does and there is nothing to read (not an error). Tests point a :class:`FileThrottleSource`
at a file they write.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional, Protocol, Tuple

SYSFS_PATH = "/sys/devices/platform/soc/soc:firmware/get_throttled"

#: bit -> (name, what to do about it)
UNDER_VOLTAGE, FREQ_CAPPED, THROTTLED, SOFT_TEMP_LIMIT = 0, 1, 2, 3
OCCURRED_SHIFT = 16
FLAG_NAMES: Dict[int, Tuple[str, str]] = {
    UNDER_VOLTAGE: ("under-voltage", "use a supply that gives 5.1 V at 2.5 A (the official one) and a short, thick "
                                     "USB cable; on a UPS HAT, charge the battery"),
    FREQ_CAPPED: ("ARM frequency capped", "the supply sags or the SoC is hot: see under-voltage and temperature"),
    THROTTLED: ("throttled", "the SoC is too hot or the supply too weak: give it air or a heatsink, and a better "
                             "supply"),
    SOFT_TEMP_LIMIT: ("soft temperature limit", "the SoC reached 60 °C or more: give it air or a heatsink"),
}


class ThrottleError(OSError):
    """The flags could not be read (the file or command failed), as opposed to there being none to read."""


@dataclass(frozen=True)
class ThrottleFlags:
    """The ``get_throttled`` word, decoded."""

    raw: int

    def now(self, bit: int) -> bool:
        return bool(self.raw >> bit & 1)

    def occurred(self, bit: int) -> bool:
        return bool(self.raw >> (bit + OCCURRED_SHIFT) & 1)

    @property
    def under_voltage(self) -> bool:
        """Under-voltage now."""
        return self.now(UNDER_VOLTAGE)

    @property
    def throttled(self) -> bool:
        """Slowed down now: frequency capped, throttled or at the soft temperature limit."""
        return any(self.now(bit) for bit in (FREQ_CAPPED, THROTTLED, SOFT_TEMP_LIMIT))

    def describe(self) -> str:
        """In words: ``under-voltage now; throttled since boot`` or ``no under-voltage or throttling since boot``."""
        parts = []
        for bit, (name, _) in FLAG_NAMES.items():
            if self.now(bit):
                parts.append(f"{name} now")
            elif self.occurred(bit):
                parts.append(f"{name} since boot")
        return "; ".join(parts) if parts else "no under-voltage or throttling since boot"

    def fixes(self) -> str:
        return "; ".join(fix for bit, (_, fix) in FLAG_NAMES.items() if self.now(bit) or self.occurred(bit))


def parse_throttled(text: str) -> ThrottleFlags:
    """``throttled=0x50005`` (vcgencmd) or ``50005`` (sysfs) -> flags. Raises ValueError for anything else."""
    value = text.strip()
    if value.startswith("throttled="):
        value = value[len("throttled="):]
    return ThrottleFlags(int(value, 16))


class ThrottleSource(Protocol):
    def read(self) -> ThrottleFlags: ...


class FileThrottleSource:
    """The flags from a file (sysfs on a Pi; any file in tests)."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def read(self) -> ThrottleFlags:
        try:
            return parse_throttled(self.path.read_text())
        except (OSError, ValueError) as exc:
            raise ThrottleError(f"cannot read the power flags from {self.path}: {exc}") from exc

    def __repr__(self) -> str:
        return str(self.path)


class CommandThrottleSource:
    """The flags from ``vcgencmd get_throttled``."""

    def __init__(self, command: str = "vcgencmd", run: Callable[..., "subprocess.CompletedProcess"] = subprocess.run):
        self.command = command
        self._run = run

    def read(self) -> ThrottleFlags:
        try:
            done = self._run([self.command, "get_throttled"], capture_output=True, text=True, timeout=2.0)
            return parse_throttled(done.stdout)
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            raise ThrottleError(f"'{self.command} get_throttled' failed: {exc}; add the service user to the "
                                f"video group ('sudo adduser $USER video')") from exc

    def __repr__(self) -> str:
        return f"{self.command} get_throttled"


def open_throttle_source(where: str = "auto") -> Optional[ThrottleSource]:
    """``auto``: sysfs if present, else ``vcgencmd`` if on the PATH, else ``None`` (not a Pi); ``none``:
    ``None``; anything else is a file to read."""
    if where == "none":
        return None
    if where != "auto":
        return FileThrottleSource(where)
    if Path(SYSFS_PATH).exists():
        return FileThrottleSource(SYSFS_PATH)
    if shutil.which("vcgencmd"):
        return CommandThrottleSource()
    return None
