"""Who may command a device: docs/mosquitto/acl.conf, as written, on a real Mosquitto with a password file.

A stranger's (or another device's) ``cmd/cancel`` never reaches the device and a carer's does; a stranger reads
nothing of the device; a retained command is refused by the device itself; two daemons of one device id do not
take each other's connection over. Cross-connection ordering: a message the broker acknowledged is routed
before anything sent after that acknowledgement, so "B arrived, A (sent and acknowledged before B) did not"
shows A was dropped, without sleeping.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import List

import pytest

from firmware_py.events import FALL
from firmware_py.transport.mqtt import Follower, Publisher
from firmware_py.transport.outbox import Outbox
from hal.clock import MonotonicClock
from tests.broker import Mosquitto
from tests.integration.test_mqtt import make_event, pump, receive, settings_for

pytestmark = pytest.mark.broker

ROOT = Path(__file__).resolve().parents[2]
ACL = ROOT / "docs" / "mosquitto" / "acl.conf"
USERS = ("walker-1", "walker-2", "carer-anna", "homeassistant", "stranger")
STAY = ["user root"] if os.geteuid() == 0 else []


def password(user: str) -> str:
    return f"pw-{user}-7c1"


@pytest.fixture
def acl_broker(tmp_path):
    passwd = shutil.which("mosquitto_passwd")
    if passwd is None:
        pytest.fail("mosquitto_passwd is not installed (it comes with the mosquitto package)")
    password_file = tmp_path / "passwd"
    for i, user in enumerate(USERS):
        subprocess.run([passwd, "-b"] + (["-c"] if i == 0 else []) + [str(password_file), user, password(user)],
                       check=True, capture_output=True)
    broker = Mosquitto(tmp_path / "broker", extra_conf=STAY + ["allow_anonymous false",
                                                                   f"password_file {password_file}",
                                                                   f"acl_file {ACL}"])
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def login(acl_broker, tmp_path):
    """MqttSettings for ``user`` on the ACL broker (its password in a file, as the daemon reads it)."""
    def settings(user: str, device_id: str = "walker-1"):
        path = tmp_path / f"{user}.password"
        path.write_text(password(user) + "\n")
        return settings_for(acl_broker, device_id=device_id, username=user, password_file=str(path))
    return settings


@pytest.fixture
def device(login, tmp_path):
    """walker-1's publisher, logged in as walker-1."""
    box = Outbox(tmp_path / "outbox.sqlite3", MonotonicClock())
    pub = Publisher(login("walker-1"), box, MonotonicClock())
    pub.start()
    assert pump(pub, lambda: pub.is_connected), pub.last_error
    yield pub
    pub.close()
    box.close()


@pytest.fixture
def people(login):
    started: List[Follower] = []

    def start(user: str, *topics: str) -> Follower:
        follower = Follower(login(user), list(topics)).start()
        started.append(follower)
        return follower
    yield start
    for follower in started:
        follower.close()


def commands_until(device: Publisher, wanted: str) -> List[str]:
    """The names and senders' ids of the commands the device took, until one with id ``wanted`` arrives."""
    seen: List[str] = []
    assert pump(device, lambda: seen.extend(f"{c.name}:{c.request_id}" for c in device.commands())
                or f"cancel:{wanted}" in seen), f"the carer's command never arrived; got {seen}"
    return seen


def test_a_strangers_cancel_is_refused_by_the_acl_and_a_carers_is_obeyed(device, people):
    stranger = people("stranger")
    other_device = people("walker-2")
    carer = people("carer-anna")
    stranger.publish("retrowalk/walker-1/cmd/cancel", json.dumps({"id": "stranger"}))
    other_device.publish("retrowalk/walker-1/cmd/cancel", json.dumps({"id": "walker-2"}))
    carer.publish("retrowalk/walker-1/cmd/cancel", json.dumps({"id": "carer"}))
    assert commands_until(device, "carer") == ["cancel:carer"]


def test_home_assistant_may_command_the_device_like_a_carer(device, people):
    people("homeassistant").publish("retrowalk/walker-1/cmd/cancel", json.dumps({"id": "ha"}))
    assert commands_until(device, "ha") == ["cancel:ha"]


def test_a_carer_cannot_forge_the_devices_replies_or_events(device, people):
    carer = people("carer-anna")
    watcher = people("homeassistant", "retrowalk/walker-1/#")
    carer.publish("retrowalk/walker-1/cmd/result", json.dumps({"command": "cancel", "ok": True, "forged": 1}))
    carer.publish("retrowalk/walker-1/event", json.dumps({"type": FALL, "forged": 1}))
    device.outbox.put(make_event(FALL), "walker-1")
    got = receive(watcher, lambda got: any(t.endswith("/event") for t, _ in got), publisher=device)
    assert [json.loads(p).get("forged") for t, p in got if t.endswith(("/event", "/cmd/result"))] == [None]


def test_a_stranger_reads_nothing_of_the_device_and_a_carer_reads_its_events(device, people):
    stranger = people("stranger", "retrowalk/walker-1/#", "homeassistant/status")
    carer = people("carer-anna", "retrowalk/walker-1/event")
    fall = make_event(FALL)
    device.outbox.put(fall, "walker-1")
    got = receive(carer, lambda got: len(got) >= 1, publisher=device)
    assert json.loads(got[0][1])["id"] == fall.id
    people("homeassistant").publish("homeassistant/status", "online")  # after the fall was acknowledged
    seen = receive(stranger, lambda got: any(t == "homeassistant/status" for t, _ in got))
    assert [t for t, _ in seen] == ["homeassistant/status"], "the stranger received the device's messages"


def test_a_retained_cancel_is_ignored_and_said_on_cmd_result(login, people, tmp_path):
    carer = people("carer-anna", "retrowalk/walker-1/cmd/result")
    carer._client.publish("retrowalk/walker-1/cmd/cancel", json.dumps({"id": "stale"}), qos=1,
                          retain=True).wait_for_publish(5)
    box = Outbox(tmp_path / "late.sqlite3", MonotonicClock())
    device = Publisher(login("walker-1"), box, MonotonicClock())  # connects after: the broker replays it
    device.start()
    try:
        taken: List[str] = []
        replies = receive(carer, lambda got: bool(taken.extend(c.name for c in device.commands())) or
                          len(got) >= 1, publisher=device)
        assert not taken, "a retained command was obeyed"
        assert replies, "the refusal never reached cmd/result"
        result = json.loads(replies[0][1])
        assert result["ok"] is False and "retained command is ignored" in result["message"]
        assert "mosquitto_pub -r -n -t retrowalk/walker-1/cmd/cancel" in result["message"]
    finally:
        device.close()
        box.close()


def test_two_daemons_of_one_device_keep_both_connections(login, tmp_path):
    boxes = [Outbox(tmp_path / f"o{i}.sqlite3", MonotonicClock()) for i in range(2)]
    pubs = [Publisher(login("walker-1"), box, MonotonicClock()) for box in boxes]
    try:
        assert pubs[0].client_id != pubs[1].client_id
        for pub in pubs:
            pub.start()
            assert pump(pub, lambda: pub.is_connected), pub.last_error
        for pub in pubs:  # with one shared id the broker would have dropped the first
            assert pump(pub, lambda: pub.is_connected, timeout_s=1.0)
    finally:
        for pub in pubs:
            pub.close()
        for box in boxes:
            box.close()


def test_connecting_as_retrowalk_device_no_longer_takes_the_daemons_connection_over(device, login):
    # the trial: a client with id retrowalk-<device> kicked the daemon off, 10 times out of 10
    impostor = Follower(login("stranger"), [], client_id="retrowalk-walker-1").start()
    try:
        carer_sent = Follower(login("carer-anna"), []).start()  # anything sent after the impostor connected
        carer_sent.publish("retrowalk/walker-1/cmd/ping", json.dumps({"id": "after"}))
        seen: List[str] = []
        assert pump(device, lambda: seen.extend(c.request_id for c in device.commands()) or "after" in seen)
        assert device.is_connected
        carer_sent.close()
    finally:
        impostor.close()


def test_home_assistant_gets_the_devices_retained_state_and_discovery_through_the_acl(login, people, tmp_path):
    import dataclasses

    from firmware_py.alerting.wearer_state import StateTracker

    box = Outbox(tmp_path / "state-outbox.sqlite3", MonotonicClock())
    pub = Publisher(dataclasses.replace(login("walker-1"), discovery=True), box, MonotonicClock(),
                    state_dir=tmp_path)
    tracker = StateTracker("walker-1", None, pub.publish_state)
    pub.start()
    fall_config = "homeassistant/binary_sensor/retrowalk_walker-1/fall/config"
    try:
        assert pump(pub, lambda: pub.is_connected), pub.last_error
        tracker.on_event(make_event(FALL, 1))
        ha = people("homeassistant", "retrowalk/walker-1/state", fall_config)  # retained copies only
        # the "ok" published on connect may still be the retained copy when Home Assistant subscribes: wait
        # for the alarm (receive gives up at its deadline, and the asserts below then say what was missing)
        got = dict(receive(ha, lambda g: fall_config in {t for t, _ in g} and any(
            t == "retrowalk/walker-1/state" and json.loads(p).get("state") == "alarm" for t, p in g),
            publisher=pub))
    finally:
        pub.close()
        box.close()
    assert fall_config in got, "the device may not publish its discovery configs"
    assert json.loads(got.get("retrowalk/walker-1/state", b"{}")).get("state") == "alarm", \
        "the device may not publish its retained state"
