"""The daemon keeps the wearer state carers see: every recorded event moves it, Home Assistant's "Stop alarm"
button (``PRESS`` on ``cmd/cancel``) ends it, and it is there again after a restart."""
from __future__ import annotations

import json

import pytest

from firmware_py.events import Event
from firmware_py.follower import Follower
from firmware_py.mqtt import MqttSettings
from tests.firmware.test_daemon import daemons, make_config, start, step_until, wait_connected  # noqa: F401

pytestmark = pytest.mark.broker


def state_of(payload: bytes) -> str:
    return json.loads(payload)["state"] if payload else ""


def test_stop_alarm_button_ends_the_fall_alarm_and_the_state_survives_a_restart_until_then(
        daemons, fake_clock, mock_factory, state_dir, mosquitto):  # noqa: F811
    mqtt = MqttSettings(host=mosquitto.host, port=mosquitto.port, device_id="carer", discovery=True)
    config = make_config(state_dir, mqtt=mqtt)
    daemon = start(daemons, config, fake_clock, mock_factory, with_broker=True)
    with Follower(mqtt, ["retrowalk/carer/state", "retrowalk/carer/cmd/result"]).start() as carer:
        wait_connected(daemon, fake_clock)
        now = fake_clock.monotonic()
        daemon._record(Event("fall", now, now))  # as the pipeline would hand it over
        step_until(daemon, fake_clock, carer, "/state", accept=lambda p: state_of(p) == "alarm")
        daemon.close()  # a restart: nothing sounds in the new process, the state file still says alarm
        daemon = start(daemons, config, fake_clock, mock_factory, with_broker=True)
        wait_connected(daemon, fake_clock)
        step_until(daemon, fake_clock, carer, "/state", accept=lambda p: state_of(p) == "alarm")
        # what Home Assistant's Stop alarm button publishes
        discovery = json.loads((state_dir / "retained_topics.json").read_text())["topics"]
        assert "homeassistant/button/retrowalk_carer/stop_alarm/config" in discovery
        carer.publish("retrowalk/carer/cmd/cancel", b"PRESS")
        # the state goes out first, then the reply (step_until passes over what it does not wait for)
        step_until(daemon, fake_clock, carer, "/state", accept=lambda p: state_of(p) == "ok")
        reply = json.loads(step_until(daemon, fake_clock, carer, "cmd/result"))
        assert reply["ok"] and "back to ok" in reply["message"]
