"""The daemon keeps the wearer state carers see: every recorded event moves it, Home Assistant's "Stop alarm"
button (``PRESS`` on ``cmd/cancel``) ends it, and it is there again after a restart."""
from __future__ import annotations

import json

import pytest

from firmware_py.events import Event
from firmware_py.transport.follower import Follower
from firmware_py.transport.mqtt import MqttSettings
from firmware_py.alerting.wearer_state import STATE_FILE
from tests.firmware.test_daemon import daemons, make_config, start, step_until, wait_connected  # noqa: F401

pytestmark = pytest.mark.broker


def state_of(payload: bytes) -> str:
    return json.loads(payload)["state"] if payload else ""


@pytest.fixture
def carer_daemon(daemons, fake_clock, mock_factory, state_dir, mosquitto):  # noqa: F811
    mqtt = MqttSettings(host=mosquitto.host, port=mosquitto.port, device_id="carer", discovery=True)
    config = make_config(state_dir, mqtt=mqtt)

    def run():
        daemon = start(daemons, config, fake_clock, mock_factory, with_broker=True)
        wait_connected(daemon, fake_clock)
        return daemon

    with Follower(mqtt, ["retrowalk/carer/state", "retrowalk/carer/cmd/result"]).start() as carer:
        yield run, carer


def press_stop_alarm(daemon, clock, carer) -> dict:
    carer.publish("retrowalk/carer/cmd/cancel", b"PRESS")  # what Home Assistant's Stop alarm button sends
    # the state goes out first, then the reply (step_until passes over what it does not wait for)
    step_until(daemon, clock, carer, "/state", accept=lambda p: state_of(p) == "ok")
    return json.loads(step_until(daemon, clock, carer, "cmd/result"))


def test_stop_alarm_button_ends_a_fall_alarm_that_survived_a_restart(carer_daemon, fake_clock, state_dir):
    run, carer = carer_daemon
    daemon = run()
    now = fake_clock.monotonic()
    daemon._record(Event("fall", now, now))  # as the pipeline would hand it over
    step_until(daemon, fake_clock, carer, "/state", accept=lambda p: state_of(p) == "alarm")
    daemon.close()  # a restart: the state file and the alarm file both keep the fall
    daemon = run()
    step_until(daemon, fake_clock, carer, "/state", accept=lambda p: state_of(p) == "alarm")
    discovery = json.loads((state_dir / "retained_topics.json").read_text())["topics"]
    assert "homeassistant/button/retrowalk_carer/stop_alarm/config" in discovery
    assert press_stop_alarm(daemon, fake_clock, carer)["ok"]


def test_stop_alarm_button_clears_an_alarm_state_with_nothing_sounding(carer_daemon, fake_clock, state_dir):
    # e.g. kept by a daemon whose alarm was cancelled on the device while the disk was read-only
    (state_dir / STATE_FILE).write_text(json.dumps({"state": "alarm", "cause": "fall", "fall": True}))
    run, carer = carer_daemon
    daemon = run()
    step_until(daemon, fake_clock, carer, "/state", accept=lambda p: state_of(p) == "alarm")
    reply = press_stop_alarm(daemon, fake_clock, carer)
    assert reply["ok"] and "back to ok" in reply["message"]
