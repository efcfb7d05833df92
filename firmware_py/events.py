"""The ``Event``: what the detectors, the alert manager and the daemon raise, and what MQTT carries.

The JSON form is documented as a JSON Schema in ``docs/event.schema.json``; bump ``SCHEMA_VERSION``
on any change a subscriber would notice.
"""
from __future__ import annotations

import dataclasses
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, Optional

SCHEMA_VERSION = 1

# Event types, in the user's words.
STUMBLE = "stumble"
LOSS_OF_BALANCE = "loss_of_balance"
FALL = "fall"
HELP_NEEDED = "help_needed"
RECOVERED = "recovered"
CANCELLED = "cancelled"
SOS = "sos"
SENSOR_FAULT = "sensor_fault"
#: the outbox's disk failed (features.state "lost", with the error and the fix) or works again ("recovered")
STORAGE_FAULT = "storage_fault"
SESSION_SUMMARY = "session_summary"
BATTERY_LOW = "battery_low"
POWER_FAULT = "power_fault"
SHUTTING_DOWN = "shutting_down"

EVENT_TYPES = (STUMBLE, LOSS_OF_BALANCE, FALL, HELP_NEEDED, RECOVERED, CANCELLED, SOS,
               SENSOR_FAULT, STORAGE_FAULT, SESSION_SUMMARY, BATTERY_LOW, POWER_FAULT, SHUTTING_DOWN)

INFO, WARNING, CRITICAL = "info", "warning", "critical"
SEVERITIES = (INFO, WARNING, CRITICAL)

DEFAULT_SEVERITY = {
    STUMBLE: WARNING,
    LOSS_OF_BALANCE: CRITICAL,
    FALL: CRITICAL,
    HELP_NEEDED: CRITICAL,
    RECOVERED: INFO,
    CANCELLED: INFO,
    SOS: CRITICAL,
    SENSOR_FAULT: WARNING,
    STORAGE_FAULT: WARNING,
    SESSION_SUMMARY: INFO,
    BATTERY_LOW: WARNING,
    POWER_FAULT: WARNING,
    SHUTTING_DOWN: CRITICAL,  # the monitor goes off: the carer must know
}

#: types that must never be dropped from a full outbox, nor muted unless configured
FALL_CLASS = frozenset({LOSS_OF_BALANCE, FALL, HELP_NEEDED, SOS})


def new_event_id() -> str:
    return uuid.uuid4().hex



def iso_utc(wall_s: float) -> str:
    """Wall time as the events' ``time``: ISO 8601 in UTC, to the millisecond."""
    return datetime.fromtimestamp(wall_s, timezone.utc).isoformat(timespec="milliseconds")

@dataclass(frozen=True)
class Event:
    """One thing that happened to the wearer (or the device).

    Attributes
    ----------
    type : str
        One of ``EVENT_TYPES``.
    t_onset_s : float
        Monotonic (sample-clock) seconds when it began, e.g. the start of the loss of balance.
    t_detect_s : float
        Monotonic seconds of the sample at which it was recognised; ``t_detect_s - t_onset_s`` is the
        detection latency in signal time.
    features : dict
        What fired it, units in the keys (``peak_accel_g``, ``tilt_deg``, ``trunk_rate_dps``,
        ``lead_s`` ...). JSON-serialisable values only.
    severity : str
        ``info``, ``warning`` or ``critical``; defaults by type.
    wall_time : float or None
        Unix seconds of the onset, set by the daemon (the pipeline reads no clock).
    id : str
        Unique; subscribers dedupe by it (delivery is at least once).
    """

    type: str
    t_onset_s: float
    t_detect_s: float
    features: Dict[str, Any] = field(default_factory=dict)
    severity: str = ""
    wall_time: Optional[float] = None
    id: str = field(default_factory=new_event_id)

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {self.type!r}; use one of {', '.join(EVENT_TYPES)}")
        if not self.severity:
            object.__setattr__(self, "severity", DEFAULT_SEVERITY[self.type])
        elif self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}; use one of {', '.join(SEVERITIES)}")

    @property
    def latency_s(self) -> float:
        return self.t_detect_s - self.t_onset_s

    @property
    def is_fall_class(self) -> bool:
        return self.type in FALL_CLASS

    def replace(self, **changes: Any) -> "Event":
        return dataclasses.replace(self, **changes)

    def to_dict(self, device: str = "") -> Dict[str, Any]:
        """The JSON object published on ``<prefix>/event`` (see docs/event.schema.json)."""
        wall = self.wall_time
        return {
            "schema": SCHEMA_VERSION,
            "id": self.id,
            "device": device,
            "type": self.type,
            "severity": self.severity,
            "time": iso_utc(wall) if wall is not None else None,
            "t_onset_s": round(self.t_onset_s, 4),
            "t_detect_s": round(self.t_detect_s, 4),
            "latency_s": round(self.latency_s, 4),
            "features": self.features,
        }

    def to_json(self, device: str = "") -> str:
        return json.dumps(self.to_dict(device), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "Event":
        wall = d.get("time")
        wall_s = datetime.fromisoformat(wall).timestamp() if wall else None
        return cls(type=d["type"], t_onset_s=float(d["t_onset_s"]), t_detect_s=float(d["t_detect_s"]),
                   features=dict(d.get("features") or {}), severity=d.get("severity", ""),
                   wall_time=wall_s, id=d["id"])

    @classmethod
    def from_json(cls, text: str) -> "Event":
        return cls.from_dict(json.loads(text))
