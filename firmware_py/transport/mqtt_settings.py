"""The ``[mqtt]`` settings: how to reach the broker, TLS, and what to publish, validated once.

No network here and no paho (``mqtt`` is the only paho import), so the config loader can build and check these
without the MQTT client; ``mqtt`` re-exports them. Also here: reading ``password_file`` (shared with the checks
``retrowalk run`` and ``config check`` make before starting) and the per-process client id.
"""
from __future__ import annotations

import random
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from .topics import check_device_id, check_prefix


def default_device_id() -> str:
    """The host name, reduced to the characters a topic level may safely hold."""
    name = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname().split(".")[0])[:64].strip("-")
    return name or "retrowalk"


@dataclass(frozen=True)
class MqttTlsSettings:
    """TLS to the broker (use port 8883 on most brokers).

    Attributes
    ----------
    enabled : bool
        Connect with TLS. With an empty ``ca_file`` the system's CAs are trusted.
    ca_file : str
        PEM file of the CA that signed the broker's certificate (empty: the system's CAs).
    certfile : str
        Optional client certificate (PEM), for brokers that require one.
    keyfile : str
        The client certificate's private key (may be empty if the key is inside ``certfile``).
    """

    enabled: bool = False
    ca_file: str = ""
    certfile: str = ""
    keyfile: str = ""

    def __post_init__(self) -> None:
        if self.keyfile and not self.certfile:
            raise ValueError(f"tls.keyfile = {self.keyfile!r} is set without tls.certfile; set both for a client "
                             f"certificate, or neither")
        if (self.ca_file or self.certfile) and not self.enabled:
            raise ValueError("tls.ca_file / tls.certfile are set but tls.enabled = false; set enabled = true "
                             "to use TLS, or remove the files")


@dataclass(frozen=True)
class MqttSettings:
    """How to reach the broker and what to publish. The password is only ever read from ``password_file``.

    Attributes
    ----------
    host : str
        The broker's host name or IP address.
    port : int
        The broker's port (1883; 8883 for TLS on most brokers).
    prefix : str
        Topic prefix: topics are ``<prefix>/<device_id>/status``, ``.../event``, ``.../telemetry``, ``.../cmd/...``.
    device_id : str
        This wearer's id in topics: 1 to 64 letters, digits, '-' or '_'; defaults to the host name.
    keepalive_s : int
        MQTT keepalive; the broker publishes the last will ``offline`` after 1.5 x this without traffic.
    reconnect_min_s : float
        First wait before reconnecting; doubles on each failure (each wait jittered between half and all of it).
    reconnect_max_s : float
        Longest wait between reconnect attempts.
    tls : MqttTlsSettings
        TLS to the broker.
    username : str
        Broker login name (empty: no login).
    password_file : str
        File whose first line is the broker password (chmod 600); the password is never logged.
    discovery : bool
        Publish Home Assistant MQTT discovery configs (retained) on every connect and when Home Assistant
        restarts; switched off (or with a new device_id), the configs published before are cleared.
    discovery_prefix : str
        Home Assistant's discovery prefix.
    max_inflight : int
        Events handed to the network at once at QoS 1; the rest wait in the outbox.

    The longest mute the ``mute`` command accepts is ``[alerts] mute_max_minutes``: one setting for the command
    and the alert manager that carries it out.
    """

    host: str = "127.0.0.1"
    port: int = 1883
    prefix: str = "retrowalk"
    device_id: str = field(default_factory=default_device_id)
    keepalive_s: int = 30
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0
    tls: MqttTlsSettings = field(default_factory=MqttTlsSettings)
    username: str = ""
    password_file: str = ""
    discovery: bool = False
    discovery_prefix: str = "homeassistant"
    max_inflight: int = 20

    def __post_init__(self) -> None:
        if not self.host or any(c.isspace() for c in self.host):
            raise ValueError(f"host = {self.host!r} is not allowed; use a host name or IP address")
        if not 1 <= self.port <= 65535:
            raise ValueError(f"port = {self.port} is not allowed; use 1 to 65535 (1883, or 8883 for TLS)")
        check_prefix(self.prefix)
        check_device_id(self.device_id)
        check_prefix(self.discovery_prefix, "discovery_prefix")
        if not 5 <= self.keepalive_s <= 3600:
            raise ValueError(f"keepalive_s = {self.keepalive_s} is not allowed; use 5 to 3600")
        if not 0 < self.reconnect_min_s <= self.reconnect_max_s:
            raise ValueError(f"reconnect_min_s = {self.reconnect_min_s}, reconnect_max_s = {self.reconnect_max_s} "
                             f"are not allowed; use 0 < reconnect_min_s <= reconnect_max_s")
        if self.password_file and not self.username:
            raise ValueError("password_file is set without username; set username too")
        if not 1 <= self.max_inflight <= 1000:
            raise ValueError(f"max_inflight = {self.max_inflight} is not allowed; use 1 to 1000")

    @property
    def broker(self) -> str:
        return f"{'mqtts' if self.tls.enabled else 'mqtt'}://{self.host}:{self.port}"


def read_password_file(path: str) -> str:
    """The broker password: the first line of ``path``. ConfigError if it is not a readable UTF-8 text file."""
    where = f"[mqtt] password_file = {path!r}"
    fix = "create it with the broker password on its first line (UTF-8 text), readable by this user"
    p = Path(path)
    try:
        if p.exists() and not p.is_file():
            raise ConfigError(f"{where} is not a regular file; {fix}")
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{where} cannot be read ({exc.strerror}); {fix}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where} is not UTF-8 text (byte {exc.start}); {fix}") from None
    return text.splitlines()[0] if text else ""


def process_client_id(device_id: str) -> str:
    """``retrowalk-<device>-<8 hex digits>``, new for every process.

    Sessions are clean, so a fixed id carries no state; it only lets whoever knows the device name take the
    connection over (the broker drops the older client of an id), and two daemons given the same device id
    (a copied SD card) would kick each other off in a loop. Who may publish as the device is the broker's ACL's
    job (docs/mosquitto/acl), not the id's."""
    return f"retrowalk-{device_id}-{random.SystemRandom().getrandbits(32):08x}"
