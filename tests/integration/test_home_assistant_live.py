"""A real Home Assistant (Core 2025.4, headless, its MQTT integration on the test's Mosquitto) and the daemon's
MQTT side: every event type fires an automation, and Fall detected / Help needed are on right after Home
Assistant restarts, the daemon restarts and the broker restarts.

What Home Assistant shows is read back through its own ``mqtt_statestream`` (every entity's state published on
``ha-state/...``) and an automation that publishes each event it was triggered by. Slow (Home Assistant starts
twice, about 10 s each; some 35 s in all); skipped with the reason when its venv cannot run it (tests/ha.py).
"""
from __future__ import annotations

import queue
import re
import time
from typing import Callable, List, Tuple

import pytest

from firmware_py.events import EVENT_TYPES, FALL, HELP_NEEDED, Event
from firmware_py.transport.follower import Follower
from tests.ha import HomeAssistant, why_home_assistant_cannot_run
from tests.integration.test_carer_state import device
from tests.integration.test_mqtt import settings_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]

FALL_STATE = "ha-state/binary_sensor/retrowalk_walker_1_fall/state"
HELP_STATE = "ha-state/binary_sensor/retrowalk_walker_1_help_needed/state"


class Watch:
    """What Home Assistant says on MQTT, collected while the device's loop keeps turning."""

    def __init__(self, broker) -> None:
        self.follower = Follower(settings_for(broker), ["ha-state/#", "ha-test/#", "homeassistant/status"]).start()
        self.seen: List[Tuple[str, str]] = []
        self.publisher = None

    def until(self, done: Callable[[List[Tuple[str, str]]], bool], what: str, ha: HomeAssistant,
              timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not done(self.seen):
            if time.monotonic() > deadline:
                raise AssertionError(f"Home Assistant never showed {what}; it said {self.seen[-20:]}\n{ha.tail()}")
            if self.publisher is not None:
                self.publisher.step()
            try:
                topic, payload, _retained, _t = self.follower.messages.get(timeout=0.05)
            except queue.Empty:
                continue
            self.seen.append((topic, payload.decode("utf-8", "replace")))

    def latest(self, topic: str) -> str:
        return next((p for t, p in reversed(self.seen) if t == topic), "")

    def forget(self) -> None:
        self.seen.clear()


def alarm_on(seen) -> bool:
    def last(topic):
        return next((p for t, p in reversed(seen) if t == topic), "")
    return last(FALL_STATE) == "on" and last(HELP_STATE) == "on"


def test_a_real_home_assistant_triggers_on_every_event_type_and_shows_the_alarm_after_each_restart(
        mosquitto, tmp_path):
    reason = why_home_assistant_cannot_run()
    if reason:
        pytest.skip(reason)
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    ha = HomeAssistant(tmp_path / "home-assistant", mosquitto.port, "event.retrowalk_walker_1_event")
    watch = Watch(mosquitto)
    try:
        ha.start()
        watch.until(lambda seen: ("homeassistant/status", "online") in seen, "its birth message", ha)
        with device(mosquitto, state_dir) as (pub, tracker):
            watch.publisher = pub
            watch.until(lambda seen: watch.latest(FALL_STATE) == "off", "the discovered Fall detected", ha)
            # every event type the daemon knows is an automation trigger, its id among the attributes
            raised = [Event(kind, n, n + 0.25, wall_time=time.time()) for n, kind in enumerate(EVENT_TYPES)]
            for event in raised:
                pub.outbox.put(event, "walker-1")
            wanted = {f"{e.type} {e.id}" for e in raised}
            watch.until(lambda seen: wanted <= {p for t, p in seen if t == "ha-test/triggered"},
                        f"an automation run for each of {', '.join(EVENT_TYPES)}", ha)
            # the wearer falls and does not get up
            tracker.on_event(Event(FALL, 100.0, 100.3, wall_time=time.time()))
            tracker.on_event(Event(HELP_NEEDED, 130.0, 130.0, wall_time=time.time()))
            watch.until(alarm_on, "Fall detected and Help needed on", ha)

            ha.stop()  # Home Assistant restarts while the wearer is on the floor
            watch.forget()
            ha.start()
            watch.until(alarm_on, "the alarm right after its own restart", ha)

        watch.publisher = None  # the daemon stops ...
        watch.until(lambda seen: watch.latest(FALL_STATE) == "unavailable", "the device unavailable", ha)
        watch.forget()
        with device(mosquitto, state_dir) as (pub, _tracker):  # ... and starts again on the same state dir
            watch.publisher = pub
            watch.until(alarm_on, "the alarm right after the daemon's restart", ha)

            # so far (two Home Assistant runs, all configs, every event): not one complaint from MQTT or templates
            complaints = [line for line in ha.log.read_text(errors="replace").splitlines()
                          if re.search(r"(WARNING|ERROR) .*\[homeassistant\.(components\.mqtt|helpers\.template)", line)]
            assert complaints == []

            watch.forget()
            mosquitto.restart()  # the broker forgets every retained message
            watch.until(lambda seen: watch.latest(FALL_STATE) == "unavailable" or alarm_on(seen),
                        "anything after the broker's restart", ha)
            watch.until(alarm_on, "the alarm right after the broker's restart", ha)
    finally:
        watch.follower.close()
        ha.stop()
