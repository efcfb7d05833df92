"""Home Assistant discovery payloads as data (no broker, no Home Assistant; the schema check against Home
Assistant's own code is tests/integration/test_home_assistant.py)."""
from __future__ import annotations

import json

import pytest

from firmware_py import events
from firmware_py.transport.ha_discovery import discovery_messages
from firmware_py.transport.topics import Command, Topics, parse_command
from firmware_py.alerting.wearer_state import STATES


def _discovery(prefix="homeassistant"):
    return {topic: json.loads(payload) for topic, payload in discovery_messages(Topics("retrowalk", "w1"), prefix)}


def _entity(component, object_id):
    return _discovery()[f"homeassistant/{component}/retrowalk_w1/{object_id}/config"]


def test_event_entity_offers_every_event_type_the_daemon_knows_including_ones_added_later(monkeypatch):
    assert _entity("event", "event")["event_types"] == list(events.EVENT_TYPES)
    # a type added to the one list in events.py appears without touching the discovery code
    monkeypatch.setattr(events, "EVENT_TYPES", events.EVENT_TYPES + ("battery_low",))
    import firmware_py.transport.ha_discovery as ha
    monkeypatch.setattr(ha, "EVENT_TYPES", events.EVENT_TYPES)
    assert "battery_low" in _entity("event", "event")["event_types"]


def test_fall_and_help_binary_sensors_read_the_retained_state_topic_at_qos_1():
    for object_id in ("fall", "help_needed"):
        config = _entity("binary_sensor", object_id)
        assert (config["state_topic"], config["qos"], config["device_class"]) == (
            "retrowalk/w1/state", 1, "safety")
    assert _entity("sensor", "state")["options"] == list(STATES)


def test_everything_an_alarm_travels_on_is_subscribed_or_sent_at_qos_1():
    alarm_topics = {"retrowalk/w1/event", "retrowalk/w1/state", "retrowalk/w1/cmd/cancel",
                    "retrowalk/w1/cmd/test_alarm", "retrowalk/w1/cmd/result"}
    seen = set()
    for config in _discovery().values():
        topic = config.get("state_topic") or config.get("command_topic")
        if topic in alarm_topics:
            seen.add(topic)
            assert config.get("qos") == 1, config["unique_id"]
    assert seen == alarm_topics


def test_every_entity_goes_unavailable_with_status_and_names_origin_and_version():
    configs = _discovery().values()
    for config in configs:
        assert config["availability_topic"] == "retrowalk/w1/status"
        assert (config["payload_available"], config["payload_not_available"]) == ("online", "offline")
        assert config["origin"]["name"] == "retrowalk" and config["origin"]["sw_version"]
        assert config["device"]["sw_version"] == config["origin"]["sw_version"]
    assert len({c["unique_id"] for c in configs}) == len(configs)


def test_buttons_send_what_the_command_parser_accepts_and_sit_in_the_config_category():
    for object_id, command, expected in (("test_alarm", "test_alarm", Command("test_alarm")),
                                         ("stop_alarm", "cancel", Command("cancel")),
                                         ("mute_30_min", "mute", Command("mute", minutes=30))):
        button = _entity("button", object_id)
        assert button["command_topic"] == f"retrowalk/w1/cmd/{command}"
        assert button["entity_category"] == "config" and button["qos"] == 1
        assert parse_command(command, button["payload_press"].encode()) == expected


@pytest.mark.parametrize("key", ["outbox_depth", "lost_samples", "sample_rate_hz", "sensor", "temp_c",
                                 "battery_percent", "battery_voltage_v", "battery_charging",
                                 "power_under_voltage", "power_throttled"])
def test_each_telemetry_health_figure_has_a_diagnostic_entity(key):
    found = [c for c in _discovery().values()
             if c.get("state_topic") == "retrowalk/w1/telemetry" and f"'{key}'" in c["value_template"]]
    assert len(found) == 1 and found[0]["entity_category"] == "diagnostic"


def test_battery_is_a_battery_sensor_in_percent():
    battery = _entity("sensor", "battery_percent")
    assert (battery["device_class"], battery["unit_of_measurement"]) == ("battery", "%")


def test_discovery_prefix_is_configurable_and_refused_with_wildcards():
    assert all(t.startswith("ha-test/") for t in _discovery("ha-test"))
    with pytest.raises(ValueError, match="discovery_prefix"):
        _discovery("home/#")
