"""Topic names and command validation: the MQTT wire contract, no broker."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_py.transport.topics import COMMAND_NAMES, Command, CommandError, CommandResult, Topics, parse_command


def test_topics_sit_under_prefix_and_device_when_built():
    t = Topics("home/walk", "walker-1")
    assert (t.status, t.event, t.state, t.telemetry, t.cmd("mute"), t.cmd_result, t.cmd_all) == (
        "home/walk/walker-1/status", "home/walk/walker-1/event", "home/walk/walker-1/state", "home/walk/walker-1/telemetry",
        "home/walk/walker-1/cmd/mute", "home/walk/walker-1/cmd/result", "home/walk/walker-1/cmd/#")


def test_command_name_ignores_our_own_replies_when_read_back_from_cmd_wildcard():
    t = Topics("retrowalk", "w")
    assert t.command_name("retrowalk/w/cmd/cancel") == "cancel"
    assert t.command_name("retrowalk/w/cmd/result") is None
    assert t.command_name("retrowalk/other/cmd/cancel") is None


@pytest.mark.parametrize("prefix", ["", "a/+/b", "#", "/retrowalk", "retrowalk/", "a//b"])
def test_prefix_with_wildcards_or_empty_levels_is_refused_with_its_value(prefix):
    with pytest.raises(ValueError, match=r"prefix = .* is not allowed"):
        Topics(prefix, "w")


@pytest.mark.parametrize("device_id", ["", "a/b", "a+b", "walker 1", "x" * 65, "w#"])
def test_device_id_that_would_break_a_topic_is_refused(device_id):
    with pytest.raises(ValueError, match="device_id = .* is not allowed; use 1 to 64 letters"):
        Topics("retrowalk", device_id)


# ---- commands --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("payload", [b"", b"PRESS", b"{}", b' {"id": "req-1"} '])
def test_commands_without_arguments_accept_empty_press_or_object(payload):
    for name in ("cancel", "test_alarm", "calibrate", "ping"):
        assert parse_command(name, payload).name == name


def test_mute_takes_minutes_as_object_or_bare_number_and_echoes_the_id():
    assert parse_command("mute", b'{"minutes": 15, "id": "abc"}') == Command("mute", 15, "abc")
    assert parse_command("mute", b"30") == Command("mute", 30)
    assert parse_command("mute", b'{"minutes": 5.0}') == Command("mute", 5)


@pytest.mark.parametrize("name,payload,words", [
    ("mute", b'{"minutes": 0}', "minutes = 0 is out of range; use 1 to 120"),
    ("mute", b'{"minutes": 121}', "minutes = 121 is out of range"),
    ("mute", b'{"minutes": "ten"}', 'minutes = "ten" must be a whole number'),
    ("mute", b'{"minutes": true}', "minutes = true must be a whole number"),
    ("mute", b'{"minutes": 2.5}', "minutes = 2.5 must be a whole number"),
    ("mute", b"{}", "'minutes' is missing"),
    ("mute", b'{"minutes": NaN}', "not valid JSON"),
    ("cancel", b"{not json", "cancel: payload is not valid JSON"),
    ("cancel", b"[1, 2]", "payload must be a JSON object"),
    ("cancel", b'{"force": true}', "unknown field \"force\""),
    ("cancel", b"\xff\xfe", "not UTF-8"),
    ("ping", b'{"id": 5}', "id = 5 is not allowed"),
    ("reboot", b"{}", "unknown command 'reboot'; use one of cancel, mute, test_alarm, calibrate, ping"),
    ("ping", b"{" + b" " * 2000 + b"}", "too long"),
])
def test_bad_command_payload_is_refused_naming_the_problem(name, payload, words):
    with pytest.raises(CommandError) as caught:
        parse_command(name, payload)
    assert words in str(caught.value)


def test_refusal_keeps_the_request_id_when_it_was_readable():
    with pytest.raises(CommandError) as caught:
        parse_command("mute", b'{"minutes": 0, "id": "r7"}')
    assert caught.value.request_id == "r7" and caught.value.command == "mute"


def test_max_mute_minutes_bounds_what_mute_accepts():
    assert parse_command("mute", b"60", max_mute_minutes=60).minutes == 60
    with pytest.raises(CommandError, match="use 1 to 60"):
        parse_command("mute", b"61", max_mute_minutes=60)


def test_result_json_names_command_outcome_and_request_id():
    result = Command("mute", 15, "r1").result(True, "muted for 15 min", until="12:00")
    assert json.loads(result.to_json()) == {"command": "mute", "ok": True, "message": "muted for 15 min",
                                            "id": "r1", "details": {"until": "12:00"}}
    assert "id" not in json.loads(CommandResult("ping", True, "pong").to_json())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(COMMAND_NAMES + ("", "cmd", "result", "mute/extra")) | st.text(max_size=12),
       payload=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_payload_gives_a_command_or_a_readable_refusal_never_a_crash_when_fuzzed(name, payload):
    try:
        command = parse_command(name, payload)
    except CommandError as exc:
        assert str(exc) and isinstance(exc.command, str)
        assert CommandResult(exc.command, False, str(exc), exc.request_id).to_json()
    else:
        assert command.name in COMMAND_NAMES
        assert command.minutes is None or 1 <= command.minutes <= 120


@settings(max_examples=200, deadline=None)
@given(body=st.dictionaries(st.sampled_from(["minutes", "id", "extra"]), json_values, max_size=3))
def test_mute_accepts_only_whole_minutes_in_range_when_fuzzed(body):
    try:
        command = parse_command("mute", json.dumps(body).encode())
    except CommandError:
        return
    assert isinstance(command.minutes, int) and 1 <= command.minutes <= 120
    assert set(body) <= {"minutes", "id"}
