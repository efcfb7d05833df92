"""Many homes, one central broker: docs/bridge/retrowalk-bridge.conf, run as shipped (only the address
replaced) between two local Mosquittos on free loopback ports. The device side does not change."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from firmware_py.events import FALL, STUMBLE
from firmware_py.transport.follower import Follower
from firmware_py.transport.mqtt import Publisher
from firmware_py.transport.outbox import Outbox
from firmware_py.transport.topics import CommandResult
from firmware_py.alerting.wearer_state import StateTracker
from hal.clock import MonotonicClock
from tests.broker import Mosquitto
from tests.integration.test_carer_state import collect
from tests.integration.test_mqtt import make_event, pump, settings_for

pytestmark = pytest.mark.broker

REPO = Path(__file__).resolve().parents[2]
BRIDGE_CONF = REPO / "docs" / "bridge" / "retrowalk-bridge.conf"
CENTRAL = "homes/home-a/retrowalk/walker-1"


@pytest.fixture
def homes(tmp_path):
    """(home broker with the bridge, central broker that keeps sessions across its restart)."""
    stay = ["user root"] if os.geteuid() == 0 else []
    central = Mosquitto(tmp_path / "central", extra_conf=stay + [
        "persistence true", f"persistence_location {tmp_path}/central/"]).start()
    bridge = BRIDGE_CONF.read_text().replace("central.example.org:8883", f"127.0.0.1:{central.port}")
    assert f"127.0.0.1:{central.port}" in bridge
    home = Mosquitto(tmp_path / "home", extra_conf=bridge.splitlines()).start()
    yield home, central
    home.stop()
    central.stop()


def bridge_is_up(follower: Follower) -> None:
    got = collect(follower, lambda g: any(t == "homes/home-a/bridge" and p == b"1" for t, p, _r in g))
    assert any(p == b"1" for t, p, _r in got if t == "homes/home-a/bridge"), f"the bridge never came up: {got}"


def test_events_state_and_replies_reach_central_carers_and_their_commands_come_back(homes, tmp_path):
    home, central = homes
    outbox = Outbox(tmp_path / "outbox.sqlite3", MonotonicClock())
    pub = Publisher(settings_for(home), outbox, MonotonicClock())
    tracker = StateTracker("walker-1", None, pub.publish_state)
    carer = Follower(settings_for(central), ["homes/+/bridge", "homes/+/retrowalk/+/event",
                                             "homes/+/retrowalk/+/cmd/result"]).start()
    pub.start()
    try:
        bridge_is_up(carer)
        assert pump(pub, lambda: pub.is_connected)
        fall = make_event(FALL, 1)
        outbox.put(fall, "walker-1")
        tracker.on_event(fall)
        got = collect(carer, lambda g: any(t == f"{CENTRAL}/event" for t, _p, _r in g), publisher=pub)
        assert [json.loads(p)["id"] for t, p, _r in got if t == f"{CENTRAL}/event"] == [fall.id]
        # a central carer answers: the command crosses the bridge inward, the reply outward
        carer.publish(f"{CENTRAL}/cmd/ping", json.dumps({"id": "central-1"}))
        commands = []
        assert pump(pub, lambda: bool(commands.extend(pub.commands()) or commands), timeout_s=20)
        assert [(c.name, c.request_id) for c in commands] == [("ping", "central-1")]
        pub.reply(CommandResult("ping", True, "pong", "central-1"))
        got = collect(carer, lambda g: any(t.endswith("/cmd/result") for t, _p, _r in g), publisher=pub)
        assert json.loads(next(p for t, p, _r in got if t == f"{CENTRAL}/cmd/result"))["id"] == "central-1"
        # a carer who starts later at the central desk sees the retained state and status, as at home
        with Follower(settings_for(central), [f"{CENTRAL}/state", f"{CENTRAL}/status"]).start() as late:
            got = collect(late, lambda g: len(g) >= 2)
        retained = {t: (p, r) for t, p, r in got}
        assert json.loads(retained[f"{CENTRAL}/state"][0])["state"] == "alarm" and retained[f"{CENTRAL}/state"][1]
        assert retained[f"{CENTRAL}/status"] == (b"online", True)
    finally:
        pub.close()
        carer.close()
        outbox.close()


def test_events_raised_while_the_central_broker_is_down_reach_its_carers_in_order(homes, tmp_path):
    home, central = homes
    outbox = Outbox(tmp_path / "outbox.sqlite3", MonotonicClock())
    pub = Publisher(settings_for(home), outbox, MonotonicClock())
    carer = Follower(settings_for(central), ["homes/+/bridge", "homes/+/retrowalk/+/event"],
                     client_id="central-desk", persistent=True).start()
    pub.start()
    try:
        bridge_is_up(carer)
        assert pump(pub, lambda: pub.is_connected)
        central.stop()  # the home's internet link, or the central broker, is gone
        raised = [make_event(STUMBLE if n % 2 else FALL, n) for n in range(20)]
        for event in raised:
            outbox.put(event, "walker-1")
        assert pump(pub, lambda: outbox.depth() == 0)  # the home broker has them: the device is done
        central.start()
        ids = [e.id for e in raised]
        got = collect(carer, lambda g: set(ids) <= {json.loads(p)["id"] for t, p, _r in g if t.endswith("/event")},
                      timeout_s=60)
    finally:
        pub.close()
        carer.close()
        outbox.close()
    arrived = list(dict.fromkeys(json.loads(p)["id"] for t, p, _r in got if t.endswith("/event")))
    assert arrived == ids


def test_alerts_at_the_central_desk_names_each_wearer_with_their_home(homes):
    home, central = homes
    with Follower(settings_for(central), ["homes/+/bridge"]).start() as watcher:
        bridge_is_up(watcher)
    proc = subprocess.Popen([sys.executable, "-m", "firmware_py.cli", "alerts", "--port", str(central.port),
                             "--prefix", "homes/+/retrowalk", "--count", "1", "--timeout", "30"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr.readline().startswith("following homes/+/retrowalk/+/event")
        with Follower(settings_for(home), []).start() as device:  # a wearer at home a falls
            device.publish("retrowalk/walker-1/event", make_event(FALL, 1).to_json("walker-1"))
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert "home-a/walker-1  FALL" in out
