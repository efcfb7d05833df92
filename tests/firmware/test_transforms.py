"""retrowalk evaluate's transforms: a stranger's device, checked on the same recordings."""
from __future__ import annotations

import json

import numpy as np
import pytest

from firmware_py.evaluation import scenarios
from firmware_py.cli import main
from firmware_py.evaluation.datasets import write_csv
from firmware_py.evaluation.recording import Recording
from firmware_py.evaluation.evaluate import run_recording
from firmware_py.evaluation.metrics import TrialResult, compute_metrics
from firmware_py.evaluation.transforms import Transform, parse_rotation, random_rotation
from hal.types import SampleBlock


def _fall_recording() -> Recording:
    fall = scenarios.backward_fall(seed=3)
    impact = int(np.argmax(np.linalg.norm(fall.accel_g, axis=1)))
    return Recording("fall_synthetic", fall.t_s, fall.accel_g, fall.gyro_dps, np.eye(3), "fall", "fall", impact,
                     synthetic=True)


def test_a_rotated_sensor_with_its_mounting_gives_the_same_events():
    rec = _fall_recording()
    plain = run_recording(rec).events
    turned = run_recording(Transform(rotate=True).apply(rec)).events
    assert [e[0] for e in turned] == [e[0] for e in plain]
    assert np.allclose([e[2] for e in turned], [e[2] for e in plain])


def test_random_rotations_are_rotations_and_repeatable():
    m = random_rotation(7)
    assert np.allclose(m @ m.T, np.eye(3)) and np.linalg.det(m) == pytest.approx(1.0)
    assert np.array_equal(m, random_rotation(7)) and not np.allclose(m, random_rotation(8))


def test_time_reverse_keeps_acceleration_flips_rates_and_moves_the_impact():
    rec = _fall_recording()
    rev = Transform(time_reverse=True).apply(rec)
    assert np.array_equal(rev.accel_g, rec.accel_g[::-1]) and np.array_equal(rev.gyro_dps, -rec.gyro_dps[::-1])
    assert np.all(np.diff(rev.t_s) > 0) and rev.t_s[0] == 0.0
    assert rev.impact_t_s == pytest.approx(rec.t_s[-1] - rec.impact_t_s)


def test_resample_and_no_mounting():
    rec = Transform(resample_hz=20.0, no_mounting=True).apply(_fall_recording())
    assert np.median(np.diff(rec.t_s)) == pytest.approx(0.05)
    assert rec.body_from_sensor is None
    assert np.linalg.norm(rec.accel_g[rec.impact_index]) > 2.0      # the impact is still the peak near it


def test_a_bad_rotation_is_refused_with_what_to_use():
    with pytest.raises(ValueError, match="3x3"):
        parse_rotation("[[1,0],[0,1]]")
    with pytest.raises(ValueError, match="not a rotation"):
        parse_rotation("[[1,0,0],[0,1,0],[0,0,-1]]")
    assert parse_rotation("random") is None


def test_stumble_chirps_and_walking_direction_are_scored_on_walks():
    walk = TrialResult("walk_1", "walk", "walk", 3600.0, None,
                       events=(("stumble", 10.0, 11.0), ("stumble", 20.0, 21.0)), bouts=(3, 1, 0))
    metrics = compute_metrics([walk])
    assert metrics["walking_stumbles_per_hour"] == pytest.approx(2.0)
    assert metrics["walking_direction_right"] == pytest.approx(0.75)
    assert compute_metrics([walk], walked="backward")["walking_direction_right"] == pytest.approx(0.25)


def test_evaluate_takes_the_transforms_and_says_what_it_did(tmp_path, capsys):
    fall = scenarios.backward_fall(seed=2)
    write_csv(tmp_path / "fall_synthetic.csv", [SampleBlock(fall.t_s, fall.accel_g, fall.gyro_dps)],
              body_from_sensor=np.eye(3), synthetic=True)
    assert main(["evaluate", str(tmp_path), "--format", "csv", "--no-mounting", "--rotate", "random",
                 "--time-reverse", "--resample", "100", "--json", "--jobs", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["transform"] == ("no mounting (uncalibrated wearer), sensor rotated at random per trial, "
                                "resampled to 100 Hz, reversed in time")
    assert main(["evaluate", str(tmp_path), "--rotate", "[[1,0,0]]"]) == 2
    assert "--rotate" in capsys.readouterr().err
