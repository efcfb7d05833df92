"""Errors above the HAL. The root is shared with ``hal`` so one ``except RetrowalkError`` catches all."""
from __future__ import annotations

from hal.errors import RetrowalkError

__all__ = ["RetrowalkError", "ConfigError", "DataFormatError", "EX_CONFIG"]

#: sysexits.h EX_CONFIG: what a restart cannot fix (the systemd unit does not restart on it)
EX_CONFIG = 78


class ConfigError(RetrowalkError, ValueError):
    """A config file, key or value is wrong. The message names the file, key, value and what is allowed."""


class DataFormatError(RetrowalkError, ValueError):
    """A recording could not be read. The message names the file, the line and what was expected."""
