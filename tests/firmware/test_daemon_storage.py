"""The daemon keeps detecting, buzzing and queueing when its state dir does not work, and says so."""
from __future__ import annotations

import json

import numpy as np

from firmware_py.detection.calibration import Calibration
from firmware_py.daemon.calibration_file import save_calibration
from firmware_py.events import FALL, STORAGE_FAULT
from hal.emulated import ArrayMotion
from tests.firmware.test_daemon import PERIOD_S, make_config, start  # the daemons fixture is in conftest


def test_an_outbox_that_cannot_be_opened_runs_from_memory_and_recovers_when_it_can(
        daemons, fake_clock, mock_factory, state_dir):  # noqa: F811
    from firmware_py.evaluation.scenarios import backward_fall

    save_calibration(state_dir, Calibration(gyro_bias_dps=(0.0, 0.0, 0.0), body_from_sensor=np.eye(3)))
    blocker = state_dir / "outbox.sqlite3"
    blocker.mkdir()  # SQLite: "unable to open database file"
    scenario = backward_fall(seed=3)
    motion = ArrayMotion(scenario.t_s, scenario.accel_g, scenario.gyro_dps)
    config = make_config(state_dir)
    daemon = start(daemons, config, fake_clock, mock_factory, motion=motion)  # does not raise: no exit 78
    assert "storage fault" in daemon.status_text()
    recorded = []
    buzzer_on_at_fall = None
    for _ in range(int((scenario.t_s[-1] + 2) / PERIOD_S)):
        fake_clock.advance(PERIOD_S)
        step = daemon.step()
        recorded += step
        if any(e.type == FALL for e in step):
            buzzer_on_at_fall = mock_factory.pin(config.alerts.buzzer_pin).state
    fall = next(e for e in recorded if e.type == FALL)
    assert buzzer_on_at_fall, "the buzzer must sound whatever the disk does"
    queued = [json.loads(r.payload) for r in daemon.outbox.pending(100)]
    lost = [q for q in queued if q["type"] == STORAGE_FAULT]
    assert lost and lost[0]["features"]["state"] == "lost" and "unable to open" in lost[0]["features"]["error"]
    assert fall.id in [q["id"] for q in queued]
    assert all(r.row_id < 0 for r in daemon.outbox.pending(100))  # in memory only

    blocker.rmdir()  # the admin fixes it; the outbox finds out on its next retry (backoff up to 60 s)
    for _ in range(int(70 / PERIOD_S)):
        fake_clock.advance(PERIOD_S)
        recorded += daemon.step()
    recovered = [e for e in recorded if e.type == STORAGE_FAULT and e.features["state"] == "recovered"]
    assert len(recovered) == 1 and recovered[0].severity == "info"
    rows = daemon.outbox.pending(100)
    assert fall.id in [r.event_id for r in rows] and all(r.row_id > 0 for r in rows)
    assert blocker.is_file()
    assert "storage fault" not in daemon.status_text()
