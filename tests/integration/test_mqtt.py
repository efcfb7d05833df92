"""The Publisher against a real Mosquitto on a free loopback port: events arrive, survive an outage, commands
are validated. Waits are on queues and paho's activity event with timeouts, never fixed sleeps."""
from __future__ import annotations

import json
import os
import queue
import time
from pathlib import Path
from typing import Callable, List, Tuple

import pytest

from firmware_py.events import FALL, STUMBLE, Event
from firmware_py.transport.mqtt import Follower, MqttSettings, Publisher
from firmware_py.transport.outbox import Outbox
from firmware_py.transport.topics import Command
from hal.clock import FakeClock, MonotonicClock

pytestmark = pytest.mark.broker

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "event.schema.json"
DEVICE = "walker-1"
LOOP_PERIOD_S = 0.05  # virtual time a publisher step stands for, in the tests on a FakeClock


# ---- helpers (also used by the other test_mqtt_* files) --------------------------------------------------

def settings_for(broker, **changes) -> MqttSettings:
    values = dict(host="127.0.0.1", port=broker.port, device_id=DEVICE, reconnect_min_s=0.05,
                  reconnect_max_s=0.3, keepalive_s=5)
    values.update(changes)
    return MqttSettings(**values)


def pump(publisher: Publisher, done: Callable[[], bool], timeout_s: float = 10.0, clock: FakeClock = None) -> bool:
    """Step the publisher, waiting on its activity event, until ``done()`` or the timeout (real time: paho's
    thread and the broker live in it). A virtual ``clock`` is moved on a loop period before each step."""
    deadline = time.monotonic() + timeout_s
    while True:
        if clock is not None:
            clock.advance(LOOP_PERIOD_S)
        publisher.step()
        if done():
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        publisher.wait(min(left, 0.1))


def follow(broker, *topics: str, **changes) -> Follower:
    return Follower(settings_for(broker, **changes), list(topics)).start()


def receive(follower: Follower, done: Callable[[List[Tuple[str, bytes]]], bool], timeout_s: float = 10.0,
            publisher: Publisher = None, clock: FakeClock = None) -> List[Tuple[str, bytes]]:
    """Collect ``(topic, payload)`` until ``done(collected)``; steps ``publisher`` meanwhile if given (moving a
    virtual ``clock`` on a loop period before each step, as the daemon's loop does)."""
    got: List[Tuple[str, bytes]] = []
    deadline = time.monotonic() + timeout_s
    while not done(got):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        if clock is not None:
            clock.advance(LOOP_PERIOD_S)
        if publisher is not None:
            publisher.step()
        try:
            topic, payload, _retained, _t = follower.messages.get(timeout=min(left, 0.05))
        except queue.Empty:
            continue
        got.append((topic, payload))
    return got


def events_in(messages) -> List[dict]:
    return [json.loads(p) for t, p in messages if t.endswith("/event")]


def take(publisher: Publisher, into: List[Command]) -> bool:
    """Drain the publisher's commands (which also sends the refusals) into ``into``; always True."""
    into.extend(publisher.commands())
    return True


def make_event(kind: str = STUMBLE, seq: int = 0) -> Event:
    return Event(kind, t_onset_s=100.0 + seq, t_detect_s=100.25 + seq,
                 features={"peak_accel_g": 2.5, "tilt_deg": 40.0, "trunk_rate_dps": 120.0, "lead_s": 0.4,
                           "seq": seq},
                 wall_time=time.time())


@pytest.fixture
def outbox(tmp_path):
    box = Outbox(tmp_path / "outbox.sqlite3", MonotonicClock())
    yield box
    box.close()


@pytest.fixture
def publisher(mosquitto, outbox):
    pub = Publisher(settings_for(mosquitto), outbox, MonotonicClock())
    pub.start()
    assert pump(pub, lambda: pub.is_connected), pub.last_error
    yield pub
    pub.close()


# ---- tests -----------------------------------------------------------------------------------------------

def test_event_arrives_matching_the_json_schema_when_published(mosquitto, outbox, publisher):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA_PATH.read_text())
    with follow(mosquitto, "retrowalk/+/event") as sub:
        event = make_event(FALL)
        outbox.put(event, DEVICE)
        got = receive(sub, lambda g: len(g) >= 1, publisher=publisher)
    assert [t for t, _ in got] == ["retrowalk/walker-1/event"]
    body = json.loads(got[0][1])
    jsonschema.validate(body, schema, format_checker=jsonschema.FormatChecker())
    assert body["id"] == event.id and body["type"] == "fall" and body["device"] == DEVICE
    assert body["features"]["lead_s"] == 0.4


def test_schema_rejects_an_event_missing_its_id():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA_PATH.read_text())
    body = make_event().to_dict(DEVICE)
    del body["id"]
    with pytest.raises(jsonschema.ValidationError, match="'id' is a required property"):
        jsonschema.validate(body, schema)


def test_row_leaves_the_outbox_only_after_the_broker_acknowledged_it(mosquitto, outbox, publisher):
    outbox.put(make_event(), DEVICE)
    assert outbox.depth() == 1
    assert pump(publisher, lambda: outbox.depth() == 0)
    assert publisher.delivered == 1


def test_late_subscriber_sees_retained_online_and_offline_after_close(mosquitto, outbox, publisher):
    with follow(mosquitto, "retrowalk/walker-1/status") as sub:
        first = receive(sub, lambda g: len(g) >= 1)
        assert first == [("retrowalk/walker-1/status", b"online")]
        publisher.close()
        assert receive(sub, lambda g: len(g) >= 1) == [("retrowalk/walker-1/status", b"offline")]


def test_fifty_events_raised_during_a_10_s_outage_all_arrive_in_order_when_the_broker_returns(
        mosquitto, outbox, fake_clock):
    # the outage is 10 s on the publisher's clock (virtual): order and loss do not depend on how long it lasts
    # in real time, only on the events being raised while the broker is gone
    publisher = Publisher(settings_for(mosquitto), outbox, fake_clock)
    publisher.start()
    try:
        assert pump(publisher, lambda: publisher.is_connected), publisher.last_error
        mosquitto.stop()
        assert pump(publisher, lambda: not publisher.is_connected)  # the clock stays: the outage starts now
        assert str(mosquitto.port) in publisher.last_error
        raised: List[Event] = []
        for seq in range(50):  # one every 0.2 s
            fake_clock.advance(0.2)
            event = make_event(FALL if seq % 10 == 0 else STUMBLE, seq)
            outbox.put(event, DEVICE)
            raised.append(event)
            publisher.step()
        assert not publisher.is_connected and outbox.depth() == 50
        assert publisher.state()["offline_for_s"] == 10.0
        mosquitto.start()
        with follow(mosquitto, "retrowalk/+/event") as sub:
            ids = {e.id for e in raised}
            got = events_in(receive(sub, lambda g: ids <= {b["id"] for b in events_in(g)}, timeout_s=15,
                                    publisher=publisher, clock=fake_clock))
        assert pump(publisher, lambda: outbox.depth() == 0, clock=fake_clock)
    finally:
        publisher.close()
    first_seen = list(dict.fromkeys(b["id"] for b in got))
    assert first_seen == [e.id for e in raised]  # none lost, in order
    assert {b["id"] for b in got} == ids  # any extra copy is a duplicate of one of them, by id
    by_id = {b["id"]: b for b in got}
    assert [by_id[e.id]["time"] for e in raised] == [e.to_dict()["time"] for e in raised]  # original times


def test_telemetry_goes_at_once_when_online_and_waits_in_the_outbox_when_offline(mosquitto, outbox, publisher):
    with follow(mosquitto, "retrowalk/+/telemetry") as sub:
        publisher.publish_telemetry({"tilt_deg": 3.5, "steps": 10})
        online = json.loads(receive(sub, lambda g: len(g) >= 1)[0][1])
    assert online["tilt_deg"] == 3.5 and "time" in online
    mosquitto.stop()
    assert pump(publisher, lambda: not publisher.is_connected)
    publisher.publish_telemetry({"tilt_deg": 7.0, "steps": 12})
    assert outbox.depth() == 1
    mosquitto.start()
    with follow(mosquitto, "retrowalk/+/telemetry") as sub:
        later = receive(sub, lambda g: len(g) >= 1, publisher=publisher)
    assert json.loads(later[0][1])["steps"] == 12


def test_valid_commands_reach_the_daemon_and_bad_ones_get_a_reply_naming_the_problem(
        mosquitto, outbox, publisher):
    with follow(mosquitto, "retrowalk/walker-1/cmd/result") as sub:
        sub.publish("retrowalk/walker-1/cmd/mute", '{"minutes": 0, "id": "r1"}')
        sub.publish("retrowalk/walker-1/cmd/reboot", "{}")
        sub.publish("retrowalk/walker-1/cmd/mute", '{"minutes": 15, "id": "r2"}')
        commands: List[Command] = []
        replies = receive(sub, lambda g: take(publisher, commands) and len(g) >= 2 and bool(commands),
                          publisher=publisher)
        assert commands == [Command("mute", 15, "r2")]
        refused = sorted((json.loads(p) for _, p in replies), key=lambda r: r["command"])
        assert [(r["command"], r["ok"]) for r in refused] == [("mute", False), ("reboot", False)]
        assert "minutes = 0 is out of range" in refused[0]["message"] and refused[0]["id"] == "r1"
        assert "unknown command 'reboot'" in refused[1]["message"]

        publisher.reply(commands[0].result(True, "muted for 15 min"))
        ok = receive(sub, lambda g: len(g) >= 1)
    assert json.loads(ok[0][1]) == {"command": "mute", "ok": True, "message": "muted for 15 min", "id": "r2"}


NASTY_PAYLOADS = [b"\x00\xff" * 50, b"9" * 5000, b"[" * 3000, b'{"minutes": 1e400}', b'"PRESS"', b"null",
                  b'{"id": {"a": 1}}', b'{"minutes": -1}', "{\"minutes\": \"\u00e9\"}".encode()]


def test_garbage_commands_through_the_broker_never_stop_the_handler(mosquitto, outbox, publisher):
    with follow(mosquitto, "retrowalk/walker-1/cmd/result") as sub:
        for payload in NASTY_PAYLOADS:
            sub.publish("retrowalk/walker-1/cmd/mute", payload)
        sub.publish("retrowalk/walker-1/cmd/ping", "")
        commands: List[Command] = []
        replies = receive(sub, lambda g: take(publisher, commands) and len(g) >= len(NASTY_PAYLOADS) and
                          bool(commands), publisher=publisher)
    assert commands == [Command("ping")]
    assert len(replies) == len(NASTY_PAYLOADS)
    assert all(json.loads(p)["ok"] is False and json.loads(p)["message"] for _, p in replies)


def test_home_assistant_discovery_is_retained_on_connect_when_enabled(mosquitto, outbox):
    pub = Publisher(settings_for(mosquitto, discovery=True), outbox, MonotonicClock())
    pub.start()
    try:
        assert pump(pub, lambda: pub.is_connected)
        with follow(mosquitto, "homeassistant/#") as sub:  # subscribed after: only retained copies reach it
            got = receive(sub, lambda g: len(g) >= 5)
    finally:
        pub.close()
    configs = {t: json.loads(p) for t, p in got}
    fall = configs["homeassistant/binary_sensor/retrowalk_walker-1/fall/config"]
    assert fall["device_class"] == "safety" and fall["availability_topic"] == "retrowalk/walker-1/status"


def test_start_returns_at_once_and_reports_the_refusal_in_words_when_no_broker_listens(outbox, fake_clock):
    from tests.broker import free_port

    pub = Publisher(MqttSettings(port=free_port(), device_id=DEVICE, reconnect_min_s=0.05, reconnect_max_s=0.2),
                    outbox, fake_clock)
    pub.start()
    try:
        outbox.put(make_event(FALL), DEVICE)
        assert pump(pub, lambda: pub.last_error is not None)
        assert "cannot reach broker mqtt://127.0.0.1:" in pub.last_error and "refused" in pub.last_error
        assert not pub.is_connected and outbox.depth() == 1
        fake_clock.advance(12.0)
        state = pub.state()
        assert state["offline_for_s"] == 12.0 and state["last_error"] == pub.last_error
    finally:
        pub.close()


def test_rows_handed_to_paho_when_the_broker_dies_are_delivered_after_it_returns(tmp_path, outbox):
    from tests.broker import Mosquitto

    # a broker that keeps sessions across its restart, and a carer with a persistent session: what reaches the
    # broker is kept for the carer, so the only way to lose an event is for the publisher to lose it
    stay = ["user root"] if os.geteuid() == 0 else []  # as root, mosquitto would drop to a user that cannot
    broker = Mosquitto(tmp_path / "persistent",          # write its database into pytest's private tmp_path
                       extra_conf=stay + ["persistence true", f"persistence_location {tmp_path}/"]).start()
    carer = Follower(settings_for(broker), ["retrowalk/+/event"], client_id="carer-1", persistent=True).start()
    pub = Publisher(settings_for(broker), outbox, MonotonicClock())
    pub.start()
    try:
        assert pump(pub, lambda: pub.is_connected)
        raised = [make_event(STUMBLE, seq) for seq in range(60)]
        for event in raised:
            outbox.put(event, DEVICE)
        pub.step()  # hands the first max_inflight rows to paho...
        broker.stop()  # ...and the broker goes away with some of them unacknowledged
        pump(pub, lambda: not pub.is_connected)
        broker.start()
        assert pump(pub, lambda: outbox.depth() == 0, timeout_s=15), pub.last_error
        ids = {e.id for e in raised}
        got = events_in(receive(carer, lambda g: ids <= {b["id"] for b in events_in(g)}, timeout_s=15))
    finally:
        pub.close()
        carer.close()
        broker.stop()
    assert list(dict.fromkeys(b["id"] for b in got)) == [e.id for e in raised]
