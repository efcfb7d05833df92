"""Home Assistant MQTT discovery: what one wearer looks like in Home Assistant, as pure functions.

One retained config per entity under ``<discovery_prefix>/<component>/retrowalk_<device>/<object>/config``
(per-entity discovery works on every Home Assistant with the ``event`` platform, 2023.8 and later, and each
config is checked on its own by HA's schema). The configs are checked against Home Assistant's own schemas in
``tests/integration/test_home_assistant.py``.

What a carer gets, per wearer:

- ``event`` **Event**: every event type in ``events.EVENT_TYPES`` (a type added there appears here, nothing
  to list twice), the event's JSON fields as its attributes. Each type is an automation trigger. Why an event
  entity rather than MQTT device triggers: one config instead of one per type, a history in the logbook, the
  whole event (features, id, severity) in the trigger's attributes through a plain state trigger; device
  triggers have no entity or history, give only the raw payload, and would be nine-plus more retained configs
  per wearer.
- ``binary_sensor`` **Fall detected** and **Help needed**, ``sensor`` **Wearer state** (ok, stumble, alarm,
  help_needed, sos): from the retained ``state`` topic (``wearer_state``), so they are right as soon as Home
  Assistant subscribes, after its own restart, the daemon's or the broker's.
- ``sensor`` Tilt, Cadence, Steps from telemetry; diagnostic entities (``entity_category: diagnostic``) for
  the device's health: outbox depth, lost samples, sample rate, sensor state, chip temperature, mounting,
  battery and power. A key telemetry does not carry renders ``None``, which Home Assistant shows as
  *unknown*, so a device without a battery gauge shows unknown rather than an error.
- ``button`` **Test alarm**, **Stop alarm** and **Mute 30 min** (``entity_category: config``) publish to
  ``cmd/test_alarm``, ``cmd/cancel`` and ``cmd/mute`` like any carer; **Last command result** shows the reply,
  refusals included. Who may publish there is the broker ACL's business (docs/mqtt.md).

Everything an alarm travels on is subscribed at QoS 1.
"""
from __future__ import annotations

import json
from typing import Any, Dict, FrozenSet, List, Tuple

from .. import __version__
from ..events import EVENT_TYPES
from .topics import HA_PRESS, OFFLINE, ONLINE, Topics, check_prefix
from ..alerting.wearer_state import STATES

ORIGIN = {"name": "retrowalk", "sw_version": __version__}

#: (component, object id, config) for readings in telemetry: (key, name, extra config)
_DIAGNOSTIC_SENSORS = (
    ("outbox_depth", "Outbox depth", {"state_class": "measurement", "icon": "mdi:tray-full"}),
    ("lost_samples", "Lost samples", {"state_class": "total_increasing"}),
    ("sample_rate_hz", "Sample rate", {"device_class": "frequency", "unit_of_measurement": "Hz",
                                       "state_class": "measurement"}),
    ("sensor", "Sensor", {"icon": "mdi:chip"}),
    ("temp_c", "Chip temperature", {"device_class": "temperature", "unit_of_measurement": "°C",
                                    "state_class": "measurement"}),
    ("mounting", "Mounting", {"icon": "mdi:axis-arrow"}),
    ("battery_percent", "Battery", {"device_class": "battery", "unit_of_measurement": "%",
                                    "state_class": "measurement"}),
    ("battery_voltage_v", "Battery voltage", {"device_class": "voltage", "unit_of_measurement": "V",
                                              "state_class": "measurement"}),
)
_DIAGNOSTIC_FLAGS = (
    ("battery_charging", "Charging", "battery_charging"),
    ("power_under_voltage", "Under-voltage", "problem"),
    ("power_throttled", "Throttled", "problem"),
)


def _reading(key: str) -> str:
    # .get: a key this telemetry does not carry renders "None", which HA turns into "unknown"
    return f"{{{{ value_json.get('{key}') }}}}"


def _flag(key: str) -> str:
    return f"{{{{ {{true: 'ON', false: 'OFF'}}.get(value_json.get('{key}'), 'None') }}}}"


def ha_status_topics(discovery_prefix: str) -> FrozenSet[str]:
    """Where Home Assistant publishes its birth (``online``) and last will (``offline``): its default
    ``homeassistant/status``, and ``<discovery_prefix>/status`` for setups that moved both together."""
    return frozenset({"homeassistant/status", f"{discovery_prefix}/status"})


def discovery_messages(topics: Topics, discovery_prefix: str = "homeassistant") -> List[Tuple[str, str]]:
    """Retained discovery configs ``[(topic, json)]`` for Home Assistant's MQTT integration."""
    check_prefix(discovery_prefix, "discovery_prefix")
    dev = topics.device_id
    node = f"retrowalk_{dev}"
    common = {
        "availability_topic": topics.status, "payload_available": ONLINE, "payload_not_available": OFFLINE,
        "device": {"identifiers": [node], "name": f"retrowalk {dev}", "manufacturer": "retrowalk",
                   "model": "waist-worn MPU-6050 balance monitor", "sw_version": __version__},
        "origin": ORIGIN,
    }
    alarm = {"qos": 1, "state_topic": topics.state, "json_attributes_topic": topics.state}
    entities: List[Tuple[str, str, Dict[str, Any]]] = [
        ("event", "event", {
            "name": "Event", "state_topic": topics.event, "qos": 1, "event_types": list(EVENT_TYPES),
            # the whole event becomes the trigger's attributes; HA wants its type as event_type
            "value_template": "{{ dict(value_json, event_type=value_json.type) | to_json }}"}),
        ("binary_sensor", "fall", dict(alarm, name="Fall detected", device_class="safety",
                                       value_template="{{ 'ON' if value_json.fall else 'OFF' }}")),
        ("binary_sensor", "help_needed", dict(alarm, name="Help needed", device_class="safety",
                                              value_template="{{ 'ON' if value_json.help_needed else 'OFF' }}")),
        ("sensor", "state", dict(alarm, name="Wearer state", device_class="enum", options=list(STATES),
                                 value_template="{{ value_json.state }}")),
        ("sensor", "tilt", {
            "name": "Tilt", "state_topic": topics.telemetry, "unit_of_measurement": "°",
            "state_class": "measurement", "value_template": _reading("tilt_deg")}),
        ("sensor", "cadence", {
            "name": "Cadence", "state_topic": topics.telemetry, "unit_of_measurement": "steps/min",
            "state_class": "measurement", "value_template": _reading("cadence_spm")}),
        ("sensor", "steps", {
            "name": "Steps", "state_topic": topics.telemetry, "state_class": "total_increasing",
            "value_template": _reading("steps")}),
        ("sensor", "walking_direction", {
            "name": "Walking direction", "state_topic": topics.telemetry, "icon": "mdi:arrow-left-right",
            "value_template": _reading("walking_direction")}),
        ("sensor", "last_command_result", {
            "name": "Last command result", "state_topic": topics.cmd_result, "qos": 1,
            "json_attributes_topic": topics.cmd_result, "entity_category": "diagnostic",
            "value_template": ("{{ (value_json.command ~ ': ' ~ ('ok' if value_json.ok else 'refused') ~ ', '"
                               " ~ value_json.message)[:255] }}")}),
        ("button", "test_alarm", {
            "name": "Test alarm", "command_topic": topics.cmd("test_alarm"), "payload_press": HA_PRESS,
            "qos": 1, "entity_category": "config"}),
        ("button", "stop_alarm", {
            "name": "Stop alarm", "command_topic": topics.cmd("cancel"), "payload_press": HA_PRESS,
            "qos": 1, "entity_category": "config", "icon": "mdi:alarm-off"}),
        # stumble chirps only, unless [alerts] mute_falls; refused (and shown so) past [alerts] mute_max_minutes
        ("button", "mute_30_min", {
            "name": "Mute 30 min", "command_topic": topics.cmd("mute"), "payload_press": '{"minutes": 30}',
            "qos": 1, "entity_category": "config", "icon": "mdi:volume-off"}),
    ]
    for key, name, extra in _DIAGNOSTIC_SENSORS:
        entities.append(("sensor", key, dict(extra, name=name, state_topic=topics.telemetry,
                                             entity_category="diagnostic", value_template=_reading(key))))
    for key, name, device_class in _DIAGNOSTIC_FLAGS:
        entities.append(("binary_sensor", key, {
            "name": name, "state_topic": topics.telemetry, "device_class": device_class,
            "entity_category": "diagnostic", "value_template": _flag(key)}))
    messages = []
    for component, object_id, config in entities:
        payload = dict(common, unique_id=f"{node}_{object_id}", object_id=f"{node}_{object_id}", **config)
        topic = f"{discovery_prefix}/{component}/{node}/{object_id}/config"
        messages.append((topic, json.dumps(payload, sort_keys=True, ensure_ascii=False)))
    return messages
