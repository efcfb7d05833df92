"""``retrowalk alerts``: a carer sees one readable line per event, once, and a clear message without a broker."""
from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import pytest

from firmware_py.cli import main as retrowalk
from firmware_py.commands.alerts import describe
from firmware_py.events import FALL, STUMBLE
from tests.broker import free_port
from tests.integration.test_mqtt import follow, make_event

REPO = Path(__file__).resolve().parents[2]


def start_alerts(port: int, *extra: str) -> "tuple[subprocess.Popen, queue.Queue]":
    proc = subprocess.Popen([sys.executable, "-m", "firmware_py.cli", "alerts", "--port", str(port), *extra],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready: "queue.Queue[str]" = queue.Queue()
    threading.Thread(target=_pump_lines, args=(proc.stderr, ready), name="alerts-stderr", daemon=True).start()
    return proc, ready


def _pump_lines(stream, into: "queue.Queue[str]") -> None:
    try:
        for line in stream:
            into.put(line)
    except ValueError:  # communicate() closed the pipe under us: there is nothing left to read
        pass


def wait_following(proc, ready) -> None:
    try:
        line = ready.get(timeout=15)
    except queue.Empty:
        proc.kill()
        raise AssertionError("retrowalk alerts never said it was following") from None
    assert line.startswith("following retrowalk/+/event and retrowalk/+/status on mqtt://127.0.0.1:"), line


@pytest.mark.broker
def test_alerts_prints_one_line_per_event_and_skips_a_repeated_id(mosquitto):
    proc, ready = start_alerts(mosquitto.port, "--count", "2", "--timeout", "30")
    try:
        wait_following(proc, ready)
        fall, stumble = make_event(FALL, 1), make_event(STUMBLE, 2)
        with follow(mosquitto) as sender:
            for event in (fall, fall, stumble):  # the second copy is what an at-least-once resend looks like
                sender.publish("retrowalk/walker-1/event", event.to_json("walker-1"))
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    lines = out.splitlines()
    assert proc.returncode == 0 and len(lines) == 2
    local = datetime.fromtimestamp(fall.wall_time).strftime("%Y-%m-%d %H:%M:%S")
    assert lines[0].startswith(local) and "walker-1" in lines[0]
    assert "FALL" in lines[0] and "critical" in lines[0] and "fell (peak 2.5 g, tilt 40°" in lines[0]
    assert "STUMBLE" in lines[1] and "warning" in lines[1] and "stumbled" in lines[1]


@pytest.mark.broker
def test_alerts_json_mode_prints_the_events_for_machines_and_shows_status(mosquitto):
    proc, ready = start_alerts(mosquitto.port, "--json", "--count", "1", "--timeout", "30")
    try:
        wait_following(proc, ready)
        event = make_event(FALL, 3)
        with follow(mosquitto) as sender:
            sender.publish("retrowalk/walker-2/status", "online")
            sender.publish("retrowalk/walker-2/event", event.to_json("walker-2"))
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    rows = [json.loads(line) for line in out.splitlines()]
    # arriving together they are printed most severe first; one after the other, in order
    expected = [{"device": "walker-2", "status": "online"}, event.to_dict("walker-2")]
    assert sorted(rows, key=lambda r: "status" in r) == sorted(expected, key=lambda r: "status" in r)


def test_alerts_exits_non_zero_naming_the_broker_when_nothing_listens(capsys):
    port = free_port()
    code = retrowalk(["alerts", "--port", str(port), "--connect-timeout", "10"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"retrowalk alerts: cannot connect to broker mqtt://127.0.0.1:{port}: Connection refused" in err


def test_describe_says_what_happened_in_words_for_help_needed():
    line = describe({"id": "x", "device": "w", "type": "help_needed", "severity": "critical", "time": None,
                     "features": {"lead_s": None}})
    assert "NEEDS HELP" in line and "(time unknown)" in line and "critical" in line


def test_describe_tells_the_carer_the_monitor_is_switching_off_and_the_charge():
    line = describe({"id": "x", "device": "w", "type": "shutting_down", "severity": "critical", "time": None,
                     "features": {"reason": "battery_critical", "battery_percent": 4.6}})
    assert "MONITOR SWITCHING OFF: battery empty (battery 5 %)" in line


@pytest.mark.broker
def test_alerts_with_a_session_shows_events_raised_while_it_was_away(mosquitto):
    first, ready = start_alerts(mosquitto.port, "--session", "carer-1", "--count", "1", "--timeout", "30")
    wait_following(first, ready)
    seen = make_event(FALL, 1)
    missed = make_event(FALL, 2)
    with follow(mosquitto) as sender:
        sender.publish("retrowalk/walker-1/event", seen.to_json("walker-1"))
        first.communicate(timeout=30)  # it printed the first and left
        sender.publish("retrowalk/walker-1/event", missed.to_json("walker-1"))  # nobody is listening now
    second, ready = start_alerts(mosquitto.port, "--session", "carer-1", "--json", "--count", "1",
                                 "--timeout", "30")
    try:
        out, _ = second.communicate(timeout=30)
    finally:
        second.kill()
    events = [json.loads(line) for line in out.splitlines() if '"id"' in line]
    assert [e["id"] for e in events] == [missed.id]


def test_alerts_refuses_a_session_name_that_is_not_a_plain_word(capsys):
    with pytest.raises(SystemExit):
        retrowalk(["alerts", "--session", "carer/1"])
    assert "session name 'carer/1' is not allowed" in capsys.readouterr().err


def test_alerts_refuses_a_wildcard_prefix_naming_it(capsys):
    assert retrowalk(["alerts", "--prefix", "retrowalk/#"]) == 78
    assert "prefix = 'retrowalk/#' is not allowed" in capsys.readouterr().err


def test_describe_keeps_going_when_another_client_sends_fields_of_the_wrong_type():
    # anyone on the broker can publish to <prefix>/+/event: one odd message must not end the carer's terminal
    line = describe({"id": "x", "device": "w", "type": ["fall"], "severity": None, "time": 1700000000})
    assert "(time unknown)" in line and "None" in line and "['FALL']" in line


# ---- many wearers ------------------------------------------------------------------------------------------

def test_what_arrives_together_is_printed_most_severe_first():
    from firmware_py.commands.alerts import Fleet

    fleet = Fleet()
    batch = [("retrowalk/w1/status", b"offline", True),
             ("retrowalk/w2/event", make_event(STUMBLE, 1).to_json("w2").encode(), False),
             ("retrowalk/w3/event", make_event(FALL, 2).to_json("w3").encode(), False),
             ("retrowalk/w4/status", b"online", True)]
    lines = [line for t, p, r in batch for line in fleet.handle(t, p, r, "now")]
    ordered = [text for _rank, text, _body, _is_event in sorted(lines, key=lambda line: -line[0])]
    assert "w3" in ordered[0] and "FALL" in ordered[0]
    assert "w4  is online" in ordered[-1]


def test_outbox_backing_up_is_said_once_and_again_when_drained():
    from firmware_py.commands.alerts import Fleet

    fleet = Fleet(outbox_warn=50)
    said = []
    for depth in (3, 49, 50, 80, 60, 30, 20, 10):
        said += [text for _r, text, _b, _e in fleet.handle("retrowalk/w7/telemetry",
                                                           json.dumps({"outbox_depth": depth}).encode(), False, "t")]
    assert said == ["t  w7  outbox backing up: 50 messages waiting to be delivered", "t  w7  outbox drained (20 waiting)"]


@pytest.mark.broker
def test_alerts_shows_the_wearer_who_needs_help_first_among_many_and_device_picks_one(mosquitto):
    states = {"w-ok": "ok", "w-stumble": "stumble", "w-help": "help_needed", "w-alarm": "alarm"}
    with follow(mosquitto) as sender:  # retained states of a care home, before the carer's terminal starts
        for device, state in states.items():
            body = {"state": state, "since": "2026-11-25T14:02:11+00:00", "last_event": {"type": "fall"}}
            sender.publish(f"retrowalk/{device}/state", json.dumps(body), retain=True)
        sender.publish("retrowalk/w-gone/status", "offline", retain=True)
    proc, ready = start_alerts(mosquitto.port, "--timeout", "3")
    out, _ = proc.communicate(timeout=30)
    lines = out.splitlines()
    assert len(lines) == 4, lines  # ok is not news
    assert "w-help" in lines[0] and "HELP_NEEDED" in lines[0]
    assert "w-alarm" in lines[1]  # critical, then the warnings: a stumble and a device that went away
    assert {lines[2].split()[2], lines[3].split()[2]} == {"w-gone", "w-stumble"}
    proc, ready = start_alerts(mosquitto.port, "--timeout", "3", "--device", "w-alarm")
    out, _ = proc.communicate(timeout=30)
    assert len(out.splitlines()) == 1 and "w-alarm" in out
