"""The config file: one TOML file, one frozen dataclass per section, every key with a default.

``load_config(path)`` is the only place that reads TOML. The sections' owners only declare fields and
validate them in ``__post_init__``; ``firmware_py.toml_settings`` turns the parsed tables into those
dataclasses (every field's type hint is the schema) and every problem into one ``ConfigError`` naming the
file, the section, the key, the value and what is allowed::

    retrowalk.toml: [sensor] acel_range_g is not a known key; did you mean accel_range_g?
    retrowalk.toml: [sensor] accel_range_g = 3 is not allowed; use 2, 4, 8 or 16

Secrets never appear in the file: ``[mqtt] password_file`` and the TLS key are paths. The loader checks those
files exist (a typo there would otherwise only show up much later as a broker refusing us, retried forever) and
never reads them; ``Config.to_toml(redact=True)`` hides any value whose key looks secret.

Example::

    >>> config = load_config("retrowalk.example.toml")
    >>> config.sensor.sample_rate_hz
    200
"""
from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from hal.mpu6050_settings import SensorSettings

from .alerting.alert_settings import AlertSettings
from .daemon.power import PowerSettings
from .daemon.settings import DaemonSettings
from .detection.pipeline import DetectionSettings
from .errors import ConfigError
from .toml_settings import MovedKeys, check_named_files, resolve_named_files, section_to_toml, settings_from_table
from .transport.mqtt_settings import MqttSettings

if sys.version_info >= (3, 11):
    import tomllib
else:  # Bullseye ships Python 3.9
    import tomli as tomllib

__all__ = ["Config", "PathsSettings", "load_config", "find_config", "config_from_dict", "ETC_CONFIG", "ENV_VAR"]

#: where the install script puts the config, and where ``retrowalk run`` looks when given no ``--config``
ETC_CONFIG = "/etc/retrowalk/retrowalk.toml"
#: an environment variable naming the config file (overrides ``ETC_CONFIG``)
ENV_VAR = "RETROWALK_CONFIG"

_MOVED_KEYS: MovedKeys = {("detection", "orientation", "gyro_range_dps"): "[sensor] gyro_range_dps",
                          ("mqtt", "max_mute_minutes"): "[alerts] mute_max_minutes"}
"""Keys that live elsewhere now: a config that still has one is told where."""


@dataclass(frozen=True)
class PathsSettings:
    """``[paths]``: where retrowalk keeps what must survive a restart.

    Attributes
    ----------
    state_dir : str
        Directory for the calibration (``calibration.json``), the event outbox (``outbox.sqlite3``) and the
        alarms a restart must take up (``alarms.json``). Should be writable by the service user (the systemd
        unit creates ``/var/lib/retrowalk``); when it is not, the daemon runs from memory and says
        ``storage_fault``. ``~`` is expanded.
    """

    state_dir: str = "/var/lib/retrowalk"

    def __post_init__(self) -> None:
        if not str(self.state_dir).strip():
            raise ValueError("state_dir = \"\" is not allowed; use a directory path, e.g. \"/var/lib/retrowalk\"")


@dataclass(frozen=True)
class Config:
    """Everything ``retrowalk`` can be told, one attribute per ``[section]`` of the TOML file."""

    sensor: SensorSettings = field(default_factory=SensorSettings)
    detection: DetectionSettings = field(default_factory=DetectionSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    paths: PathsSettings = field(default_factory=PathsSettings)
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    power: PowerSettings = field(default_factory=PowerSettings)

    def to_toml(self, redact: bool = True) -> str:
        """The effective config as TOML that ``load_config`` reads back to an equal ``Config``.

        Values of keys that look secret (``password``, ``token``, ...) are replaced by ``<redacted>`` unless
        ``redact`` is false. Unset optional keys are written as comments.
        """
        return "\n".join(section_to_toml(f.name, getattr(self, f.name), redact) for f in dataclasses.fields(self))


# ---- finding and reading the file ------------------------------------------------------------------------

def find_config(environ: Optional[Mapping[str, str]] = None, etc_path: str = ETC_CONFIG) -> Optional[Path]:
    """The config ``retrowalk`` uses when given none: ``$RETROWALK_CONFIG``, else ``/etc/retrowalk/retrowalk.toml``
    if it exists, else ``None`` (the defaults)."""
    environ = os.environ if environ is None else environ
    named = environ.get(ENV_VAR)
    if named:
        return Path(named)  # named explicitly: a missing file is an error, not a silent fall-back
    return Path(etc_path) if Path(etc_path).is_file() else None


def load_config(path: Optional[os.PathLike] = None, *, environ: Optional[Mapping[str, str]] = None,
                etc_path: str = ETC_CONFIG, check_files: bool = True) -> Config:
    """Read and validate a config file.

    Parameters
    ----------
    path : path-like, optional
        The TOML file. ``None`` uses ``find_config`` (``$RETROWALK_CONFIG``, then ``/etc/retrowalk/retrowalk.toml``),
        and the defaults when neither exists.
    check_files : bool
        Check that the files the config names (``*_file``, ``certfile``, ``keyfile``: password, TLS) exist.

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        The file is missing or unreadable, is not valid TOML (with the line), has an unknown section or key
        (with the nearest valid one), a value of the wrong type, or a value a section rejects. The message
        starts with the file name and the ``[section]``.
    """
    if path is None:
        path = find_config(environ, etc_path)
        if path is None:
            return Config()
    path = Path(path)
    where = str(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such file; start from retrowalk.example.toml (every key at its "
                          f"default)") from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: is not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{where}: arrays or tables nested too deeply to read; no retrowalk key takes more "
                          f"than two levels of [[...]]") from None
    try:
        config = config_from_dict(data, where)
    except RecursionError:
        raise ConfigError(f"{where}: a value is nested too deeply; no retrowalk key takes more than two levels "
                          f"of [[...]]") from None
    if check_files:
        check_named_files(config, where, base=path.parent)  # before resolving: errors quote what was written
    # relative file paths mean "next to the config", whatever directory the daemon later runs in
    return resolve_named_files(config, base=path.parent)


def config_from_dict(data: Mapping[str, Any], where: str = "retrowalk.toml") -> Config:
    """A ``Config`` from already-parsed TOML (``where`` names the source in error messages)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: the top level must be a table of [sections]")
    return settings_from_table(Config, data, where, moved_keys=_MOVED_KEYS)
