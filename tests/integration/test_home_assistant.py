"""Discovery against Home Assistant's own code (Core 2025.4 in its own venv, see tests/ha.py): every config is
accepted, every event type is an automation trigger with the event's fields, absent readings are unknown.

The restart cases against a real broker are in test_carer_state.py (they use the same check when it is there).
"""
from __future__ import annotations

import json

import pytest

from firmware_py.events import EVENT_TYPES, FALL, Event
from firmware_py.transport.ha_discovery import discovery_messages
from firmware_py.transport.topics import Topics
from tests.ha import ha_check_all, ha_python, ha_request, refused, why_no_home_assistant

pytestmark = pytest.mark.skipif(ha_python() is None, reason=why_no_home_assistant())

TOPICS = Topics("retrowalk", "walker-1")
PREFIXES = [("retrowalk", "walker-1", "homeassistant"), ("home/walk", "Room_12-b", "ha")]

# what the tests below ask Home Assistant
FALL_TOPIC = "homeassistant/binary_sensor/retrowalk_walker-1/fall/config"
BATTERY_TOPIC = "homeassistant/sensor/retrowalk_walker-1/battery_percent/config"
EVENTS = [Event(kind, t_onset_s=n, t_detect_s=n + 0.25, features={"n": n}, wall_time=1.8e9 + n)
          for n, kind in enumerate(EVENT_TYPES)]
WITHOUT_POWER = {"outbox_depth": 0, "lost_samples": 0, "sample_rate_hz": 200.0, "sensor": "ok", "temp_c": 31.5}
WITH_POWER = dict(WITHOUT_POWER, battery_percent=87, battery_voltage_v=3.91, battery_charging=False,
                  power_under_voltage=True, power_throttled=False)
REFUSED_REPLY = json.dumps({"command": "test_alarm", "ok": False, "message": "not now: an alarm is sounding"})


def misspelt_configs():
    """A misspelt key and a device class Home Assistant does not know (its discovery schema silently drops
    unknown keys; the check must not)."""
    configs = dict(discovery_messages(TOPICS))
    fall = dict(json.loads(configs[FALL_TOPIC]), entity_categry="diagnostic")
    battery = dict(json.loads(configs[BATTERY_TOPIC]), device_class="batery")
    return [(FALL_TOPIC, json.dumps(fall)), (BATTERY_TOPIC, json.dumps(battery))]


@pytest.fixture(scope="module")
def answers():
    """Every question of this file asked in one run of the checker, each answered by a Home Assistant of its
    own: importing Home Assistant takes seconds, an answer milliseconds."""
    events = [(TOPICS.event, e.to_json("walker-1"), False) for e in EVENTS]
    events.append((TOPICS.event, EVENTS[0].to_json("walker-1"), True))  # a retained replay is no new event
    questions = {
        **{prefixes: ha_request(discovery_messages(Topics(prefixes[0], prefixes[1]), prefixes[2]),
                                discovery_prefix=prefixes[2]) for prefixes in PREFIXES},
        "misspelt": ha_request(misspelt_configs()),
        "events": ha_request(discovery_messages(TOPICS), events),
        **{name: ha_request(discovery_messages(TOPICS), [(TOPICS.telemetry, json.dumps(readings), False)])
           for name, readings in (("without power", WITHOUT_POWER), ("with power", WITH_POWER))},
        "refused command": ha_request(discovery_messages(TOPICS), [(TOPICS.cmd_result, REFUSED_REPLY, False)]),
    }
    return dict(zip(questions, ha_check_all(list(questions.values()))))


@pytest.mark.parametrize("prefix,device,discovery_prefix", PREFIXES)
def test_home_assistant_accepts_every_discovery_config(answers, prefix, device, discovery_prefix):
    configs = discovery_messages(Topics(prefix, device), discovery_prefix)
    answer = answers[(prefix, device, discovery_prefix)]
    assert answer["ha_version"].startswith("2025.4")
    assert refused(answer) == []
    assert len(answer["configs"]) == len(configs) == len(answer["entities"])


def test_the_check_refuses_a_misspelt_key_and_a_device_class_home_assistant_does_not_know(answers):
    errors = refused(answers["misspelt"])
    assert len(errors) == 2
    assert "entity_categry" in errors[0] and "device_class" in errors[1]


def test_every_event_type_triggers_the_event_entity_with_the_event_fields_as_attributes(answers):
    event = answers["events"]["entities"]["retrowalk_walker-1_event"]
    assert event["problems"] == []
    assert [e["event_type"] for e in event["events"]] == list(EVENT_TYPES)
    fall = next(e["attributes"] for e in event["events"] if e["event_type"] == FALL)
    sent = EVENTS[EVENT_TYPES.index(FALL)]
    assert (fall["id"], fall["severity"], fall["features"]) == (sent.id, "critical", sent.features)


def test_readings_telemetry_does_not_carry_show_unknown_and_the_ones_it_carries_their_value(answers):
    entities = answers["without power"]["entities"]
    assert all(e["problems"] == [] for e in entities.values()), entities
    assert entities["retrowalk_walker-1_battery_percent"]["state"] == "unknown"
    assert entities["retrowalk_walker-1_power_throttled"]["state"] == "unknown"
    assert entities["retrowalk_walker-1_temp_c"]["state"] == "31.5"
    entities = answers["with power"]["entities"]
    assert {k: entities[f"retrowalk_walker-1_{k}"]["state"] for k in (
        "battery_percent", "battery_voltage_v", "battery_charging", "power_under_voltage", "power_throttled")} == {
        "battery_percent": "87", "battery_voltage_v": "3.91", "battery_charging": "off",
        "power_under_voltage": "on", "power_throttled": "off"}


def test_a_refused_command_shows_in_last_command_result_with_its_reason(answers):
    result = answers["refused command"]["entities"]["retrowalk_walker-1_last_command_result"]
    assert result["state"] == "test_alarm: refused, not now: an alarm is sounding"
    assert result["attributes"]["ok"] is False
