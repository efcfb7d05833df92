"""The MQTT wire contract as pure functions: topic names and command payloads (Home Assistant discovery:
``ha_discovery``).

Nothing here touches the network (``firmware_py/transport/mqtt.py`` does), so all of it is tested without a broker.

Topics, under a configurable prefix (default ``retrowalk``)::

    <prefix>/<device>/status        retained "online"; "offline" as the last will and on clean shutdown
    <prefix>/<device>/event         QoS 1 event JSON (docs/event.schema.json)
    <prefix>/<device>/state         retained QoS 1 JSON: ok | stumble | alarm | help_needed | sos (wearer_state)
    <prefix>/<device>/telemetry     QoS 0 JSON readings
    <prefix>/<device>/cmd/<name>    commands in: cancel, mute, test_alarm, calibrate, ping
    <prefix>/<device>/cmd/result    replies out
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Dict, Optional

from ..alerting.alert_settings import MUTE_MAX_MINUTES

ONLINE, OFFLINE = "online", "offline"

COMMAND_NAMES = ("cancel", "mute", "test_alarm", "calibrate", "ping")

#: what Home Assistant's MQTT button sends
HA_PRESS = "PRESS"

_DEVICE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_COMMAND_BYTES = 1024


def check_device_id(device_id: str) -> str:
    """Return ``device_id`` if it is safe inside a topic, else raise ValueError naming what is allowed."""
    if not isinstance(device_id, str) or not _DEVICE_ID.match(device_id):
        raise ValueError(f"device_id = {device_id!r} is not allowed; use 1 to 64 letters, digits, '-' or '_'")
    return device_id


def check_prefix(prefix: str, field: str = "prefix") -> str:
    """Return ``prefix`` if it is a usable topic prefix (no wildcards, no empty levels)."""
    if (not isinstance(prefix, str) or not prefix or any(c in prefix for c in "+#\0")
            or "" in prefix.split("/") or len(prefix) > 128):
        raise ValueError(f"{field} = {prefix!r} is not allowed; use topic levels separated by '/', "
                         f"without '+', '#', empty levels or a leading/trailing '/', e.g. 'retrowalk' or 'home/walk'")
    return prefix


@dataclass(frozen=True)
class Topics:
    """Every topic of one device."""

    prefix: str
    device_id: str

    def __post_init__(self) -> None:
        check_prefix(self.prefix)
        check_device_id(self.device_id)

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.device_id}"

    @property
    def status(self) -> str:
        return f"{self.base}/status"

    @property
    def event(self) -> str:
        return f"{self.base}/event"

    @property
    def state(self) -> str:
        """Retained: what the events add up to (``wearer_state``), for whoever subscribes later."""
        return f"{self.base}/state"

    @property
    def telemetry(self) -> str:
        return f"{self.base}/telemetry"

    @property
    def cmd_result(self) -> str:
        return f"{self.base}/cmd/result"

    @property
    def cmd_all(self) -> str:
        return f"{self.base}/cmd/#"

    def cmd(self, name: str) -> str:
        return f"{self.base}/cmd/{name}"

    def command_name(self, topic: str) -> Optional[str]:
        """``cmd/<name>`` topic -> ``name``; ``None`` for our own ``cmd/result`` and anything else."""
        head = f"{self.base}/cmd/"
        if not topic.startswith(head) or topic == self.cmd_result:
            return None
        return topic[len(head):]


# ---- commands --------------------------------------------------------------------------------------------

class CommandError(ValueError):
    """A command payload was refused; the message says what was wrong (it is sent back on ``cmd/result``)."""

    def __init__(self, command: str, message: str, request_id: Optional[str] = None) -> None:
        super().__init__(message)
        self.command = command
        self.request_id = request_id


@dataclass(frozen=True)
class Command:
    """A validated command. ``minutes`` only for ``mute``; ``request_id`` echoes the sender's ``id``."""

    name: str
    minutes: Optional[int] = None
    request_id: Optional[str] = None

    def result(self, ok: bool, message: str, **details: Any) -> "CommandResult":
        return CommandResult(self.name, ok, message, self.request_id, dict(details))


@dataclass(frozen=True)
class CommandResult:
    """A reply on ``cmd/result``."""

    command: str
    ok: bool
    message: str
    request_id: Optional[str] = None
    details: Optional[Dict[str, Any]] = None

    def to_json(self) -> str:
        body: Dict[str, Any] = {"command": self.command, "ok": self.ok, "message": self.message}
        if self.request_id is not None:
            body["id"] = self.request_id
        if self.details:
            body["details"] = self.details
        return json.dumps(body, sort_keys=True, default=str)


_ALLOWED_FIELDS = {"cancel": {"id"}, "test_alarm": {"id"}, "calibrate": {"id"}, "ping": {"id"},
                   "mute": {"id", "minutes"}}


def parse_command(name: str, payload: bytes, max_mute_minutes: float = MUTE_MAX_MINUTES) -> Command:
    """Validate one inbound command; raise ``CommandError`` naming the problem (never anything else).

    Payloads: empty, ``PRESS`` (Home Assistant's button) or a JSON object. ``mute`` takes ``{"minutes": N}`` with
    ``1 <= N <= max_mute_minutes`` (or a bare JSON integer). Any command may carry ``"id"`` (letters, digits,
    ``-_.:``, up to 64), echoed in the reply. Unknown fields are refused so a typo never half-applies.
    """
    shown = name if (isinstance(name, str) and name.isprintable() and len(name) <= 40) else repr(name)[:40]
    if name not in COMMAND_NAMES:
        raise CommandError(shown, f"unknown command {shown!r}; use one of {', '.join(COMMAND_NAMES)}")
    if len(payload) > MAX_COMMAND_BYTES:
        raise CommandError(name, f"{name}: payload of {len(payload)} bytes is too long (at most {MAX_COMMAND_BYTES})")
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CommandError(name, f"{name}: payload is not UTF-8 text; send a JSON object") from None
    if text in ("", HA_PRESS):
        body: Any = {}
    else:
        try:
            body = json.loads(text, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:
            raise CommandError(name, f"{name}: payload is not valid JSON ({str(exc)[:80]}); "
                                     f"send a JSON object such as {_example(name)}") from None
    if name == "mute" and isinstance(body, int) and not isinstance(body, bool):
        body = {"minutes": body}
    if not isinstance(body, dict):
        raise CommandError(name, f"{name}: payload must be a JSON object such as {_example(name)}, "
                                 f"not {type(body).__name__}")
    request_id = body.get("id")
    if request_id is not None and not (isinstance(request_id, str) and _REQUEST_ID.match(request_id)):
        raise CommandError(name, f"{name}: id = {_short(request_id)} is not allowed; use up to 64 letters, digits "
                                 f"or -_.:")
    unknown = sorted(str(k) for k in body if k not in _ALLOWED_FIELDS[name])
    if unknown:
        raise CommandError(name, f"{name}: unknown field {_short(unknown[0])}; allowed: "
                                 f"{', '.join(sorted(_ALLOWED_FIELDS[name]))}", request_id)
    if name != "mute":
        return Command(name, request_id=request_id)
    if "minutes" not in body:
        raise CommandError(name, f"mute: 'minutes' is missing; send e.g. {_example(name)}", request_id)
    minutes = body["minutes"]
    if isinstance(minutes, float) and math.isfinite(minutes) and minutes.is_integer():
        minutes = int(minutes)
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise CommandError(name, f"mute: minutes = {_short(minutes)} must be a whole number of minutes",
                           request_id)
    if not 1 <= minutes <= max_mute_minutes:
        raise CommandError(name, f"mute: minutes = {_short(minutes)} is out of range; use 1 to {max_mute_minutes:g}",
                           request_id)
    return Command(name, minutes=minutes, request_id=request_id)


def _refuse_constant(token: str) -> Any:
    raise ValueError(f"{token} is not JSON")


def _short(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (int, float, str, bool, type(None))) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _example(name: str) -> str:
    return '{"minutes": 15}' if name == "mute" else "{}"
