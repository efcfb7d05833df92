"""MqttSettings validation and the reconnect backoff: no broker needed."""
from __future__ import annotations

import random
import re

import pytest

from firmware_py.transport.mqtt import Backoff, MqttSettings, MqttTlsSettings, default_device_id


def test_defaults_point_at_a_local_broker_with_a_topic_safe_device_id():
    s = MqttSettings()
    assert (s.host, s.port, s.prefix, s.discovery, s.discovery_prefix) == (
        "127.0.0.1", 1883, "retrowalk", False, "homeassistant")
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", s.device_id)
    assert s.device_id == default_device_id()


@pytest.mark.parametrize("changes,words", [
    ({"port": 0}, "port = 0 is not allowed; use 1 to 65535"),
    ({"device_id": "walker/1"}, "device_id = 'walker/1' is not allowed"),
    ({"prefix": "retro/#"}, "prefix = 'retro/#' is not allowed"),
    ({"discovery_prefix": ""}, "discovery_prefix = '' is not allowed"),
    ({"keepalive_s": 1}, "keepalive_s = 1 is not allowed; use 5 to 3600"),
    ({"reconnect_min_s": 5, "reconnect_max_s": 1}, "reconnect_min_s = 5, reconnect_max_s = 1 are not allowed"),
    ({"password_file": "/etc/retrowalk/mqtt.pw"}, "password_file is set without username"),
    ({"host": ""}, "host = '' is not allowed"),
    ({"max_inflight": 0}, "max_inflight = 0 is not allowed"),
])
def test_bad_value_is_refused_naming_the_field_and_what_is_allowed(changes, words):
    with pytest.raises(ValueError) as caught:
        MqttSettings(**changes)
    assert words in str(caught.value)


def test_tls_files_without_enabling_tls_are_refused():
    with pytest.raises(ValueError, match="tls.enabled = false"):
        MqttTlsSettings(ca_file="/etc/ssl/ca.pem")
    with pytest.raises(ValueError, match="keyfile .* without tls.certfile"):
        MqttTlsSettings(enabled=True, keyfile="client.key")


def test_broker_url_says_mqtts_when_tls_is_on():
    assert MqttSettings(port=8883, tls=MqttTlsSettings(enabled=True)).broker == "mqtts://127.0.0.1:8883"


def test_backoff_doubles_up_to_the_cap_with_jitter_and_resets_after_a_connect():
    backoff = Backoff(1.0, 60.0, random.Random(3))
    delays = [backoff.next_delay_s() for _ in range(10)]
    ceilings = [min(60.0, 2.0 ** n) for n in range(10)]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings))
    assert len({round(d / c, 6) for d, c in zip(delays, ceilings)}) > 1  # jittered, not a fixed fraction
    backoff.reset()
    assert 0.5 <= backoff.next_delay_s() <= 1.0


def test_two_devices_spread_their_reconnects_when_the_broker_comes_back():
    a, b = Backoff(1.0, 60.0, random.Random(1)), Backoff(1.0, 60.0, random.Random(2))
    assert [round(a.next_delay_s(), 3) for _ in range(5)] != [round(b.next_delay_s(), 3) for _ in range(5)]
