"""The memory of retained topics: what a renamed device, or one with discovery switched off, must clear."""
from __future__ import annotations

from firmware_py.transport.retained import LEDGER_NAME, RetainedTopics
from firmware_py.transport.topics import Topics


def test_a_clearing_the_broker_never_acknowledged_is_sent_again_by_the_next_run(tmp_path):
    ledger = tmp_path / LEDGER_NAME
    first = RetainedTopics(Topics("retrowalk", "old-name"), "homeassistant", ledger)
    first.state_payload = '{"state":"ok"}'
    published = first.on_connect()
    assert ("retrowalk/old-name/state", '{"state":"ok"}') == published[-1]
    renamed = RetainedTopics(Topics("retrowalk", "new-name"), "homeassistant", ledger)
    clears = [topic for topic, payload in renamed.on_connect() if payload == ""]
    assert "retrowalk/old-name/state" in clears and "retrowalk/old-name/status" in clears
    assert len(clears) == len(first.wanted)
    for mid, topic in enumerate(clears[:-1]):  # every clearing acknowledged but the last: then a crash
        renamed.sent(mid, topic, "")
        renamed.acked(mid)
    again = RetainedTopics(Topics("retrowalk", "new-name"), "homeassistant", ledger)
    assert [topic for topic, payload in again.on_connect() if payload == ""] == clears[-1:]


def test_nothing_is_cleared_when_nothing_changed(tmp_path):
    ledger = tmp_path / LEDGER_NAME
    RetainedTopics(Topics("retrowalk", "w1"), "homeassistant", ledger).on_connect()
    assert not [t for t, p in RetainedTopics(Topics("retrowalk", "w1"), "homeassistant", ledger).on_connect()
                if p == ""]
