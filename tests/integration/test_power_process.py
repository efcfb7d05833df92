"""The clean end, end to end: ``retrowalk run`` as a subprocess on the emulated MPU-6050 and the emulated
INA219 on a synthetic battery draining fast, a real Mosquitto, systemd's notify socket. The carer must learn
that the monitor went off and why, and the daemon must stop in order on its own."""
from __future__ import annotations

import json
import sqlite3

import pytest

from tests.integration.test_daemon_process import follower, systemd, write_config  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.broker, pytest.mark.slow]

# 1 %/s from 6 %: the first reading (0.5 s after the gauge opens) is low, the next one critical; then the daemon's
# own 5 s confirmation and 5 s grace before it stops (from 8 % it took two more readings to get there)
DRAINING = """
[power]
gauge = "ina219"
check_interval_s = 1
low_percent = 20
critical_percent = 5

[power.emulator]
start_percent = 6
drain_percent_per_min = 60
"""


def test_battery_low_then_shutting_down_reach_the_carer_and_the_daemon_stops_by_itself_when_the_battery_runs_out(
        tmp_path, mosquitto, systemd, follower):  # noqa: F811
    proc = systemd.start(write_config(tmp_path, mosquitto, extra=DRAINING))
    systemd.wait_for("READY=1")
    seen = []  # (topic suffix, payload) in arrival order, until the daemon says offline
    while not seen or seen[-1] != ("status", b"offline"):
        topic, payload, _, _ = follower.messages.get(timeout=40)
        seen.append((topic.rsplit("/", 1)[-1], payload))
    events = [json.loads(p) for kind, p in seen if kind == "event"]
    types = [e["type"] for e in events]
    assert types.count("battery_low") == 1 and types.count("shutting_down") == 1
    assert types.index("battery_low") < types.index("shutting_down")
    shutdown = events[types.index("shutting_down")]
    assert shutdown["severity"] == "critical" and shutdown["features"]["reason"] == "battery_critical"
    assert shutdown["features"]["battery_percent"] <= 5
    statuses = [p for kind, p in seen if kind == "status"]
    assert statuses[-2:] == [b"shutting_down", b"offline"]
    telemetry = [json.loads(p) for kind, p in seen if kind == "telemetry" and b"battery_percent" in p]
    assert telemetry and telemetry[-1]["battery_charging"] is False and 3.0 < telemetry[-1]["battery_voltage_v"] < 4.2
    assert proc.wait(timeout=30) == 0  # an orderly stop, not a crash: systemd does not restart it
    systemd.wait_for(lambda m: m.startswith("STATUS=") and "shutting down" in m, timeout_s=2)
    systemd.wait_for("STOPPING=1", timeout_s=2)
    with sqlite3.connect(tmp_path / "state" / "outbox.sqlite3") as db:
        left = [row[0] for row in db.execute("SELECT event_type FROM outbox")]
    assert "shutting_down" not in left  # delivered (PUBACK) before the stop, not only queued
    assert "powering the pi off" not in systemd.stderr().lower()
