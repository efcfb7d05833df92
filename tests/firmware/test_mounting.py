"""Mounting as a state: detection from switch-on with any mounting; heading and walking direction from gait."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from firmware_py.evaluation import scenarios
from firmware_py.detection.calibration import Calibration, CalibrationSettings
from firmware_py.events import FALL, LOSS_OF_BALANCE, SESSION_SUMMARY
from firmware_py.detection.heading import GaitCues, HeadingLearner
from firmware_py.detection.mounting import GRAVITY_ONLY, LEARNED, rebase_rows
from firmware_py.detection.pipeline import DetectionSettings, Pipeline
from firmware_py.evaluation.transforms import random_rotation
from hal.types import SampleBlock

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SISFALL_BODY_FROM_SENSOR = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], dtype=float)


def _feed(pipeline: Pipeline, t_s, accel_g, gyro_dps, block_n: int = 20):
    events = []
    for i in range(0, len(t_s), block_n):
        events += pipeline.process(SampleBlock(t_s[i:i + block_n], accel_g[i:i + block_n], gyro_dps[i:i + block_n]))
    return events + pipeline.finish()


def _worn(scenario, sensor_from_body: np.ndarray, start: int = 0):
    """The synthetic trace as a sensor turned by ``sensor_from_body`` reads it (from sample ``start``)."""
    return (scenario.t_s[start:] - scenario.t_s[start], scenario.accel_g[start:] @ sensor_from_body.T,
            scenario.gyro_dps[start:] @ sensor_from_body.T)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_an_uncalibrated_device_worn_any_way_detects_a_fall_from_the_first_steps(seed):
    fall = scenarios.backward_fall(seed=seed, walk_s=4.0)
    # switched on mid-walk (no still second), sensor turned at random on the belt
    pipeline = Pipeline()
    events = _feed(pipeline, *_worn(fall, random_rotation(seed), start=300))

    falls = [e for e in events if e.type == FALL]
    assert len(falls) == 1
    assert pipeline.state()["mounting"] == GRAVITY_ONLY       # 4 s of walking is too little for a heading
    assert falls[0].features["direction"] == "unknown"


def test_a_configured_forward_axis_gives_the_direction_at_once():
    # the device worn like SisFall's (+z forward, +y down); the wearer walks off at once
    fall = scenarios.backward_fall(seed=4)
    pipeline = Pipeline(DetectionSettings(calibration=CalibrationSettings(forward_axis="+z")))
    events = _feed(pipeline, *_worn(fall, SISFALL_BODY_FROM_SENSOR.T))

    assert pipeline.state()["mounting"] == LEARNED
    falls = [e for e in events if e.type == FALL]
    assert len(falls) == 1 and falls[0].features["direction"] == "backward"


def test_switched_on_lying_down_the_upright_is_taken_from_walking():
    walk = scenarios.backward_walk(40.0, seed=6)
    # the first second as if lying on the back (the sensor's view of gravity turned by 90°), then the walk
    lying = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    n = 200
    accel = np.vstack((np.tile(lying @ [0.0, 0.0, 1.0], (n, 1)), walk.accel_g))
    gyro = np.vstack((np.zeros((n, 3)), walk.gyro_dps))
    t = np.arange(len(accel)) / 200.0
    pipeline = Pipeline()
    events = _feed(pipeline, t, accel, gyro)

    assert not [e for e in events if e.type in (FALL, LOSS_OF_BALANCE)]
    assert pipeline.state()["tilt_deg"] < 15.0          # measured from the walking upright, not the lying start


def test_gait_cues_point_where_the_wearer_goes_and_flip_when_running():
    # horizontal acceleration along +x leading the vertical one by a quarter of a step
    t = np.arange(400) * 0.05
    phase = 2 * np.pi * 1.8 * t
    vertical = np.cos(phase)
    ahead = np.cos(phase + np.pi / 2)
    walking, running = GaitCues(), GaitCues()
    for h, v in zip(ahead, vertical):
        walking.add(h, 0.0, 0.0, v, 1.0)
        running.add(h, 0.0, 0.0, v, -1.0)
    assert walking.direction((1.0, 0.0, 0.0)) != running.direction((1.0, 0.0, 0.0))
    assert walking.direction((1.0, 0.0, 0.0)) != walking.direction((-1.0, 0.0, 0.0))
    assert walking.direction(None) == "unknown"


def test_the_heading_waits_for_enough_walking_and_takes_the_side_the_skew_points_away_from():
    learner = HeadingLearner()
    rng = np.random.default_rng(0)
    t = np.arange(0, 8.0, 0.05)
    phase = 2 * np.pi * 1.8 * t
    # along +y (the anterior here): sharp negative braking spikes, gentle positive push-off
    braking = np.where(np.cos(phase) > 0.9, -0.6, 0.08) + rng.normal(0, 0.01, len(t))
    for t_s, h, v in zip(t, braking, np.cos(phase + 1.0)):
        learner.add(t_s, 0.05, 0.0, h, 0.0, v, running=False)
    assert learner.anterior() is None                    # 8 s: not yet
    for t_s, h, v in zip(t + 8.0, braking, np.cos(phase + 1.0)):
        learner.add(t_s, 0.05, 0.0, h, 0.0, v, running=False)
    anterior = learner.anterior()
    assert anterior is not None and anterior[1] > 0.99


def test_rebase_rows_is_a_rotation_with_z_up_and_x_anterior():
    rows = np.array(rebase_rows((0.1, 0.0, 0.995), (0.0, 1.0, 0.0)))
    assert np.allclose(rows @ rows.T, np.eye(3), atol=1e-9) and np.linalg.det(rows) == pytest.approx(1.0)
    assert rows[2] @ [0.1, 0.0, 0.995] == pytest.approx(math.hypot(0.1, 0.995), rel=1e-6)
    assert rows[0][1] > 0.99


def _sisfall_walks(activity: str, count: int):
    if not (SHARED_DATA / "load.py").is_file():
        pytest.skip("../shared/data is not here (recordings are not part of the project)")
    sys.path.insert(0, str(SHARED_DATA))
    import load
    return [load.load_trial("sisfall", trial) for trial in load.list_trials("sisfall", activity=activity)[:count]]


@pytest.mark.parametrize("reverse", [False, True])
def test_recorded_walks_are_told_forward_and_played_backwards_backward(reverse):
    for trial in _sisfall_walks("D01", 4):
        accel, gyro = trial.accel_g.astype(float), trial.gyro_dps.astype(float)
        if reverse:       # backward walking is close to forward walking reversed in time (rates change sign)
            accel, gyro = accel[::-1], -gyro[::-1]
        pipeline = Pipeline(calibration=Calibration(body_from_sensor=SISFALL_BODY_FROM_SENSOR))
        events = _feed(pipeline, np.arange(len(accel)) / trial.fs, accel, gyro)
        summary = [e for e in events if e.type == SESSION_SUMMARY][-1].features
        walked, other = ("backward", "forward") if reverse else ("forward", "backward")
        assert summary[f"{walked}_steps"] > 100 and summary[f"{other}_steps"] == 0, trial.trial_id
        if reverse:
            assert summary["backward_s"] > 60 and summary["backward_cadence_spm"] > 60


def test_an_uncalibrated_wearer_who_walks_gets_a_learned_heading():
    for trial in _sisfall_walks("D01", 3):
        sensor_from_body = random_rotation(len(trial.trial_id))
        accel = trial.accel_g.astype(float) @ SISFALL_BODY_FROM_SENSOR.T @ sensor_from_body.T
        gyro = trial.gyro_dps.astype(float) @ SISFALL_BODY_FROM_SENSOR.T @ sensor_from_body.T
        pipeline = Pipeline()
        _feed(pipeline, np.arange(len(accel)) / trial.fs, accel, gyro)
        assert pipeline.state()["mounting"] == LEARNED
        learned_anterior = np.asarray(pipeline.calibration.body_from_sensor)[0]
        true_anterior = sensor_from_body[:, 0]
        true_horizontal = true_anterior - sensor_from_body[:, 2] * (true_anterior @ sensor_from_body[:, 2])
        cos = learned_anterior @ true_horizontal / np.linalg.norm(true_horizontal)
        assert np.degrees(np.arccos(np.clip(cos, -1, 1))) < 30.0, trial.trial_id


def test_without_a_heading_the_direction_free_model_decides_and_the_backward_rule_waits():
    from firmware_py.detection.detectors import BalanceDetector
    from firmware_py.detection.detectors.fall_features import FEATURE_NAMES
    from firmware_py.detection.detectors.motion import Motion
    from firmware_py.detection.detectors.trees import TreeEnsemble

    never = TreeEnsemble(FEATURE_NAMES, 1, -99.0, [[0]], [[0.0]], [[0.0, 0.0]])
    # scores 20 only when it sees a lean back (a direction feature): zeroed without the heading
    lean_back = FEATURE_NAMES.index("lean_back_deg")
    on_lean = TreeEnsemble(FEATURE_NAMES, 1, 0.0, [[lean_back]], [[5.0]], [[-99.0, 20.0]])

    def verdict(model, gravity_only_model, heading_known):
        detector = BalanceDetector(model=model, gravity_only_model=gravity_only_model)
        for i in range(40):
            detector.step(Motion(t_s=i * 0.05, heading_known=heading_known))
        return detector.step(Motion(t_s=2.0, tilt_deg=20.0, lean_back_deg=20.0, tilt_rate_dps=70.0,
                                    back_rate_dps=70.0, vertical_speed_m_s=-0.7, heading_known=heading_known))

    assert verdict(never, never, heading_known=True).features["trigger"] == "backward_tip"
    assert verdict(never, never, heading_known=False) is None            # no "back" without a heading
    assert verdict(never, on_lean, heading_known=False) is None          # the lean is hidden from the model
    warning = verdict(never, TreeEnsemble(FEATURE_NAMES, 1, 20.0, [[0]], [[0.0]], [[0.0, 0.0]]), heading_known=False)
    assert warning is not None and warning.features["direction"] == "unknown"
