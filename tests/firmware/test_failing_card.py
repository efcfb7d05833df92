"""A card that fails under the state dir (stat answering EIO) must not stop the monitor: the small files beside
the outbox (wearer state, retained-topic ledger, calibration, sensor-fault marker) are then simply not there.

A real EIO from stat needs a failing device, which this machine cannot make on demand; ``Path.stat`` raising
EIO for the state dir's files stands in for it (the outbox's own storage faults are tested on real
filesystems in tests/integration/test_fault_injection.py)."""
from __future__ import annotations

import errno
from pathlib import Path

import pytest

from firmware_py.atomic_file import exists
from firmware_py.daemon.calibration_file import load_calibration
from firmware_py.transport.retained import RetainedTopics
from firmware_py.transport.topics import Topics
from firmware_py.alerting.wearer_state import StateTracker


@pytest.fixture
def failing_card(tmp_path, monkeypatch):
    real_stat = Path.stat

    def stat(self, *args, **kwargs):
        if str(self).startswith(str(tmp_path)):
            raise OSError(errno.EIO, "Input/output error", str(self))
        return real_stat(self, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", stat)
    return tmp_path


def test_exists_answers_false_where_the_card_cannot_tell(failing_card):
    assert exists(failing_card / "fault.json") is False


def test_the_wearer_state_starts_from_ok_on_a_failing_card(failing_card):
    published = []
    tracker = StateTracker("walker-1", failing_card / "wearer_state.json", published.append)
    assert tracker.state.state == "ok"


def test_the_retained_ledger_is_empty_and_a_connect_still_publishes_on_a_failing_card(failing_card):
    retained = RetainedTopics(Topics("retrowalk", "walker-1"), "homeassistant", failing_card / "retained.json")
    assert retained.on_connect()   # the discovery configs still go out


def test_no_calibration_is_read_from_a_failing_card(failing_card):
    assert load_calibration(failing_card) is None
