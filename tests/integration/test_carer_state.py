"""The wearer's state and the Home Assistant configs on a real Mosquitto, across restarts of Home Assistant,
of the daemon and of the broker; and the clean-up of retained configs nobody publishes any more.

"Home Assistant" here is what it does on the wire: after its restart it subscribes afresh (and gets what is
retained) and publishes ``online`` on ``homeassistant/status``. What it would then *show* is asked of Home
Assistant's own code (tests/ha.py) when its venv is there; the state JSON is checked either way.

Every wait is for messages to arrive, with a deadline; what the broker holds retained is read the way Home
Assistant reads it (a fresh subscription), up to a marker sent after subscribing.
"""
from __future__ import annotations

import json
import logging
import queue
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest

from firmware_py.events import FALL, HELP_NEEDED, Event
from firmware_py.transport.follower import Follower
from firmware_py.transport.mqtt import Publisher
from firmware_py.transport.outbox import Outbox
from firmware_py.alerting.wearer_state import STATE_FILE, StateTracker
from hal.clock import MonotonicClock
from tests.ha import ha_check, ha_python
from tests.integration.test_mqtt import pump, settings_for

pytestmark = pytest.mark.broker

STATE_TOPIC = "retrowalk/walker-1/state"
FALL_CONFIG = "homeassistant/binary_sensor/retrowalk_walker-1/fall/config"


@contextmanager
def device(broker, state_dir: Path, **changes) -> Iterator[Tuple[Publisher, StateTracker]]:
    """The daemon's MQTT side as ``build_daemon`` wires it: outbox, publisher and state tracker on a state dir."""
    settings = settings_for(broker, **dict(dict(discovery=True), **changes))
    outbox = Outbox(state_dir / "outbox.sqlite3", MonotonicClock())
    pub = Publisher(settings, outbox, MonotonicClock(), state_dir=state_dir)
    tracker = StateTracker(settings.device_id, state_dir / STATE_FILE, pub.publish_state)
    pub.start()
    try:
        assert pump(pub, lambda: pub.is_connected), pub.last_error
        yield pub, tracker
    finally:
        pub.close()
        outbox.close()


def fall_then_help(tracker: StateTracker) -> None:
    tracker.on_event(Event(FALL, 10.0, 10.3, wall_time=1.8e9))
    tracker.on_event(Event(HELP_NEEDED, 40.0, 40.0, wall_time=1.8e9 + 30))


def collect(follower: Follower, until, timeout_s: float = 20.0, publisher: Publisher = None) -> List[Tuple]:
    """``(topic, payload bytes, retained)`` from ``follower`` until ``until(collected)`` or the timeout; the
    publisher, if given, is stepped meanwhile, as the daemon's loop does."""
    got: List[Tuple] = []
    deadline = time.monotonic() + timeout_s
    while not until(got) and time.monotonic() < deadline:
        if publisher is not None:
            publisher.step()
        try:
            topic, payload, retained, _t = follower.messages.get(timeout=0.05)
        except queue.Empty:
            continue
        got.append((topic, payload, retained))
    return got


def watch(broker, pub: Publisher, until, timeout_s: float = 10.0,
          topics=("homeassistant/#", "retrowalk/#")) -> List[Tuple[str, str, bool]]:
    """A fresh subscriber (Home Assistant after its restart): ``(topic, payload text, retained)``."""
    def text(got):
        return [(t, p.decode(), r) for t, p, r in got]

    with Follower(settings_for(broker), list(topics)).start() as sub:
        return text(collect(sub, lambda got: until(text(got)), timeout_s, pub))


def last_state(got) -> Dict:
    states = [json.loads(p) for t, p, _r in got if t == STATE_TOPIC and p]
    return states[-1] if states else {}


def has_help_state(got) -> bool:
    return last_state(got).get("state") == "help_needed" and any(t == FALL_CONFIG and p for t, p, _r in got)


def assert_home_assistant_shows_the_alarm(got) -> None:
    state = last_state(got)
    assert (state.get("state"), state.get("fall"), state.get("help_needed")) == ("help_needed", True, True), got
    if ha_python() is None:
        return
    configs = [(t, p) for t, p, _r in got if t.startswith("homeassistant/") and t.endswith("/config") and p]
    answer = ha_check(configs, [m for m in got if not m[0].startswith("homeassistant/")])
    entities = answer["entities"]
    assert entities["retrowalk_walker-1_fall"]["state"] == "on"
    assert entities["retrowalk_walker-1_help_needed"]["state"] == "on"
    assert entities["retrowalk_walker-1_state"]["state"] == "help_needed"


def test_alarm_is_on_for_a_home_assistant_that_restarts_while_the_wearer_is_on_the_floor(mosquitto, state_dir):
    with device(mosquitto, state_dir) as (pub, tracker):
        fall_then_help(tracker)
        got = watch(mosquitto, pub, has_help_state)
    assert all(retained for t, _p, retained in got if t == STATE_TOPIC)  # from the broker's memory, not luck
    assert_home_assistant_shows_the_alarm(got)


def test_home_assistant_birth_brings_state_and_configs_back_when_the_broker_has_lost_them(mosquitto, state_dir):
    with device(mosquitto, state_dir) as (pub, tracker):
        fall_then_help(tracker)
        assert has_help_state(watch(mosquitto, pub, has_help_state))
        with Follower(settings_for(mosquitto), []).start() as other:  # retained copies wiped (a restored broker)
            other.publish(STATE_TOPIC, b"", retain=True)
            other.publish(FALL_CONFIG, b"", retain=True)
        left = retained_now(mosquitto, pub)
        assert STATE_TOPIC not in left and FALL_CONFIG not in left  # a Home Assistant starting now sees nothing
        with Follower(settings_for(mosquitto), []).start() as home_assistant:
            home_assistant.publish("homeassistant/status", b"online")
        got = watch(mosquitto, pub, has_help_state)
    assert_home_assistant_shows_the_alarm(got)


def test_alarm_state_is_the_same_after_the_daemon_restarts(mosquitto, state_dir):
    with device(mosquitto, state_dir) as (pub, tracker):
        fall_then_help(tracker)
        assert has_help_state(watch(mosquitto, pub, has_help_state))
    # Home Assistant stays subscribed while the daemon restarts: what the new process says replaces the old.
    # The copies the broker kept from before come flagged retained; the new process's own come live.
    with Follower(settings_for(mosquitto), ["homeassistant/#", "retrowalk/#"]).start() as home_assistant:
        with device(mosquitto, state_dir) as (pub, _tracker):
            got = collect(home_assistant, lambda got: any(t == STATE_TOPIC and not r for t, _p, r in got),
                          publisher=pub)
    live = [(t, p.decode(), r) for t, p, r in got if not r]
    assert_home_assistant_shows_the_alarm(live)  # the new process's own messages, discovery included


def test_alarm_state_is_back_after_a_broker_restart_that_forgot_every_retained_message(mosquitto, state_dir,
                                                                                      caplog):
    caplog.set_level(logging.WARNING, logger="firmware_py")  # the demo's test turns it down for the session
    with device(mosquitto, state_dir) as (pub, tracker):
        fall_then_help(tracker)
        assert has_help_state(watch(mosquitto, pub, has_help_state))
        mosquitto.restart()  # persistence false: nothing retained survives
        got = watch(mosquitto, pub, has_help_state)  # the publisher reconnects meanwhile
    assert "lost the connection" in caplog.text
    assert_home_assistant_shows_the_alarm(got)


def retained_now(broker, publisher: Publisher = None) -> Dict[str, str]:
    """Every retained message on the broker, as a fresh subscriber (Home Assistant starting) gets them: the
    broker sends them when it takes the subscription, so all are in before a marker published after it."""
    marker = f"retrowalk/test-marker/{uuid.uuid4().hex}"
    with Follower(settings_for(broker), ["homeassistant/#", "retrowalk/#"]).start() as sub:
        sub.publish(marker, b"marker")
        got = collect(sub, lambda got: any(t == marker for t, _p, _r in got), publisher=publisher)
    assert any(t == marker for t, _p, _r in got), "the marker sent after subscribing never came back"
    return {t: p.decode() for t, p, retained in got if retained}


def retained_once(broker, publisher: Publisher, until, timeout_s: float = 10.0) -> Dict[str, str]:
    """The broker's retained messages once ``until(them)`` holds, stepping ``publisher`` meanwhile (its
    clearings are acknowledged on its connection), or as they are at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        now = retained_now(broker, publisher)
        if until(now) or time.monotonic() >= deadline:
            return now
        publisher.wait(0.05)


def test_renaming_the_device_and_switching_discovery_off_leave_no_orphan_configs(mosquitto, state_dir):
    with device(mosquitto, state_dir) as (pub, tracker):
        fall_then_help(tracker)
    before = retained_now(mosquitto)
    assert FALL_CONFIG in before and STATE_TOPIC in before
    with device(mosquitto, state_dir, device_id="walker-2") as (pub, _tracker):
        after = retained_once(mosquitto, pub, lambda now: not [t for t in now if "walker-1" in t])
    assert not [t for t in after if "walker-1" in t], after  # configs, state and status of the old name
    assert "homeassistant/binary_sensor/retrowalk_walker-2/fall/config" in after
    with device(mosquitto, state_dir, device_id="walker-2", discovery=False) as (pub, _tracker):
        after = retained_once(mosquitto, pub, lambda now: not [t for t in now if t.startswith("homeassistant/")])
    assert not [t for t in after if t.startswith("homeassistant/")], after
    assert "retrowalk/walker-2/state" in after  # the state is for every carer, not only Home Assistant
