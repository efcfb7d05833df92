"""The pipeline as the daemon, replay and evaluate use it: blocks in, events out."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from firmware_py.evaluation import scenarios
from firmware_py.detection.calibration import Calibration, CalibrationSettings
from firmware_py.events import FALL, LOSS_OF_BALANCE, SESSION_SUMMARY
from firmware_py.detection.frames import Framer, sample_interval_s
from firmware_py.detection.pipeline import DetectionSettings, Pipeline
from hal.types import SampleBlock

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SISFALL_BODY_FROM_SENSOR = ((0, 0, 1), (-1, 0, 0), (0, -1, 0))


def _feed(pipeline: Pipeline, samples: SampleBlock, block_n: int):
    events = []
    for i in range(0, len(samples), block_n):
        events += pipeline.process(samples.slice(i, i + block_n))
    return events + pipeline.finish()


def _as_block(scenario) -> SampleBlock:
    return SampleBlock(scenario.t_s, scenario.accel_g, scenario.gyro_dps)


def _summary(events):
    return [(e.type, e.t_onset_s, e.t_detect_s, e.features) for e in events]


def test_events_are_the_same_whatever_the_block_size():
    demo = _as_block(scenarios.demo_walk(seed=7))
    reference = _summary(_feed(Pipeline(calibration=Calibration()), demo, 20))
    assert {FALL, LOSS_OF_BALANCE} <= {e[0] for e in reference}
    for block_n in (1, 3, 13, 256, len(demo)):
        assert _summary(_feed(Pipeline(calibration=Calibration()), demo, block_n)) == reference, block_n


def test_events_are_the_same_whatever_the_block_size_when_the_mounting_is_learned():
    demo = _as_block(scenarios.demo_walk(seed=8))
    reference = _summary(_feed(Pipeline(), demo, 20))
    assert FALL in {e[0] for e in reference}
    for block_n in (1, 7, 500):
        assert _summary(_feed(Pipeline(), demo, block_n)) == reference, block_n


@pytest.mark.parametrize("rate_hz", [20.0, 50.0, 100.0, 1000.0])
def test_a_backward_fall_is_detected_at_any_sample_rate(rate_hz):
    fall = scenarios.backward_fall(seed=2, rate_hz=rate_hz)
    t_impact = fall.truth_times(FALL)[0]
    events = _feed(Pipeline(calibration=Calibration()), _as_block(fall), max(1, int(rate_hz / 10)))
    falls = [e for e in events if e.type == FALL]
    assert len(falls) == 1
    assert t_impact <= falls[0].t_detect_s <= t_impact + 1.0


def test_a_pipeline_that_raised_a_fall_is_watching_it_and_one_that_saw_a_walk_is_not():
    # synthetic scenarios; the daemon will not swap a watching pipeline for a freshly calibrated one
    walked = Pipeline(calibration=Calibration())
    _feed(walked, _as_block(scenarios.backward_walk(duration_s=20.0, seed=3)), 20)
    assert not walked.is_watching
    fell = Pipeline(calibration=Calibration())
    samples = _as_block(scenarios.backward_fall(seed=2, lie_s=5.0))
    events = [e for i in range(0, len(samples), 20) for e in fell.process(samples.slice(i, i + 20))]
    assert FALL in {e.type for e in events}
    assert fell.is_watching


def _as_a_bluetooth_tag_sends_it(scenario, burst: int = 12, jitter_s: float = 0.02) -> SampleBlock:
    """Synthetic: a 20 Hz trace with the timing of UMAFall's waist tag -- the first ``burst`` samples
    arrive together within 0.1 s (buffered at switch-on), the rest in uneven pairs (30 ms, 70 ms)."""
    t = scenario.t_s.copy()
    end = t[burst - 1]
    t[:burst - 1] = np.sort(np.random.default_rng(0).uniform(end - 0.1, end, burst - 1))
    t[burst:] += jitter_s * (-1.0) ** np.arange(len(t) - burst)
    return SampleBlock(t, scenario.accel_g, scenario.gyro_dps)


def test_frames_of_a_jittery_20_hz_stream_with_a_switch_on_burst_hold_one_sample():
    fall = scenarios.backward_fall(seed=2, rate_hz=20.0)
    pipeline = Pipeline(calibration=Calibration())

    events = _feed(pipeline, _as_a_bluetooth_tag_sends_it(fall), 2)

    # the burst read as ~110 Hz made 6-sample (0.3 s) frames, and this fall went unseen
    assert pipeline.frame_samples == 1
    t_impact = fall.truth_times(FALL)[0]
    falls = [e for e in events if e.type == FALL]
    assert len(falls) == 1 and t_impact - 0.1 <= falls[0].t_detect_s <= t_impact + 1.0


def test_the_sample_interval_is_about_the_mean_of_uneven_intervals_not_the_typical_one():
    t = np.cumsum(np.tile([0.01, 0.04, 0.10], 20))        # 20 Hz on average; the median interval says 25 Hz
    assert sample_interval_s(t) == pytest.approx(0.05, rel=0.05)


def test_a_clipped_gyro_sample_is_overrange_however_the_sensor_is_turned():
    # synthetic: one sample clipped at a 250 °/s full scale on x; a device worn turned (or evaluate --rotate)
    # reads it spread over its axes, none at the range, and the tilt filter trusted the clipped rate
    rng = np.random.default_rng(3)
    for _ in range(20):
        q, _r = np.linalg.qr(rng.normal(size=(3, 3)))
        turn = q * np.sign(np.linalg.det(q))
        t = np.arange(50) * 0.05                  # 20 Hz: a frame is a sample
        gyro = np.zeros((50, 3))
        gyro[45] = (250.0, 90.0, -40.0)
        gyro[20] = (180.0, 150.0, 0.0)           # 234 °/s, under the range on every axis and in size
        framer = Framer(0.05, gyro_range_dps=250.0)
        frames = framer.push(SampleBlock(t, np.tile((0.0, 0.0, 1.0), (50, 1)) @ turn.T, gyro @ turn.T))
        assert np.flatnonzero(frames.gyro_overrange).tolist() == [45]


def test_a_gap_of_lost_samples_is_survived_without_a_false_alarm():
    demo = scenarios.demo_walk(seed=9)
    pipeline = Pipeline(calibration=Calibration())
    events, lost = [], 0
    t_fall = demo.truth_times(FALL)[0]
    for i, block in enumerate(demo.blocks(0.1)):
        if 60 <= i < 65:                 # 0.5 s lost from the FIFO while walking
            lost += len(block)
            continue
        events += pipeline.process(SampleBlock(block.t_s, block.accel_g, block.gyro_dps, lost_samples=lost))
        lost = 0
    alarms = [e for e in events if e.type in (FALL, LOSS_OF_BALANCE)]
    assert alarms and all(e.t_detect_s > t_fall - 2.0 for e in alarms)


def test_gravity_and_a_configured_forward_axis_give_the_mounting_at_once():
    # the device worn like SisFall's (+z forward, +y down), tipped 10° on the belt; no calibration given
    c, s = np.cos(np.radians(10)), np.sin(np.radians(10))
    body_from_sensor = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]) @ np.array(SISFALL_BODY_FROM_SENSOR, float)
    fall = scenarios.backward_fall(seed=4)
    sensor = SampleBlock(fall.t_s, fall.accel_g @ body_from_sensor, fall.gyro_dps @ body_from_sensor)
    pipeline = Pipeline(DetectionSettings(calibration=CalibrationSettings(forward_axis="+z")))

    events = _feed(pipeline, sensor, 20)

    assert pipeline.state()["mounting"] == "learned"
    learned = np.asarray(pipeline.calibration.body_from_sensor)
    angle_error_deg = np.degrees(np.arccos(np.clip((np.trace(learned.T @ body_from_sensor) - 1) / 2, -1, 1)))
    assert angle_error_deg < 3.0
    falls = [e for e in events if e.type == FALL]
    assert len(falls) == 1 and falls[0].features["direction"] == "backward"


def test_an_uncalibrated_walk_from_switch_on_is_watched_and_raises_no_alarm():
    pipeline = Pipeline()
    walk = scenarios.backward_walk(10.0, seed=1)
    moving = SampleBlock(walk.t_s[400:], walk.accel_g[400:], walk.gyro_dps[400:])   # starts mid-walk
    events = _feed(pipeline, moving, 20)
    assert not [e for e in events if e.type in (FALL, LOSS_OF_BALANCE)]
    state = pipeline.state()
    assert state["mounting"] == "gravity only" and state["steps"] > 8 and state["tilt_deg"] < 10.0


def test_state_reports_tilt_walking_steps_and_cadence():
    pipeline = Pipeline(calibration=Calibration())
    _feed(pipeline, _as_block(scenarios.backward_walk(30.0, seed=5, cadence_spm=100.0)), 20)
    state = pipeline.state()
    assert state["is_walking"] and state["steps"] > 40
    assert state["cadence_spm"] == pytest.approx(100.0, rel=0.05)
    assert state["tilt_deg"] < 10.0
    assert {"trunk_rate_dps", "direction", "vertical_speed_m_s"} <= set(state)


def test_finish_sends_the_summary_of_a_walk_in_progress():
    pipeline = Pipeline(calibration=Calibration())
    events = _feed(pipeline, _as_block(scenarios.backward_walk(40.0, seed=6)), 20)
    assert [e.type for e in events] == [SESSION_SUMMARY]
    assert pipeline.finish() == []                   # only once


def test_detection_settings_name_a_bad_frame_length():
    with pytest.raises(ValueError, match="frame_s = 0.5 is not allowed"):
        DetectionSettings(frame_s=0.5)


@pytest.mark.skipif(not (SHARED_DATA / "load.py").exists(), reason="../shared/data (SisFall) is not here")
@pytest.mark.parametrize("trial,expect_alarm", [("F02_SA01_R01", True), ("F14_SA03_R02", True),
                                                ("D01_SA01_R01", False), ("D18_SA01_R01", False)])
def test_sisfall_trials_give_the_expected_verdict(trial, expect_alarm):
    import sys
    sys.path.insert(0, str(SHARED_DATA))
    import load                                      # shared/data/load.py, numpy only

    tr = load.load_trial("sisfall", trial)
    samples = SampleBlock(tr.t, tr.accel_g.astype(float), tr.gyro_dps.astype(float))
    events = _feed(Pipeline(calibration=Calibration(body_from_sensor=SISFALL_BODY_FROM_SENSOR)), samples, 20)
    assert bool({FALL, LOSS_OF_BALANCE} & {e.type for e in events}) == expect_alarm
