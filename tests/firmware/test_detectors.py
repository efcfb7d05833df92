"""Detectors on synthetic traces: what a wearer or carer would notice."""
from __future__ import annotations

import math

import numpy as np

import pytest

from firmware_py.evaluation import scenarios
from firmware_py.detection.calibration import Calibration
from firmware_py.detection.detectors import (BalanceDetector, BalanceSettings, FallDetector, FallSettings, Motion,
                                             StillnessDetector, StillnessSettings, StumbleSettings)
from firmware_py.detection.detectors.fall_features import FEATURE_NAMES
from firmware_py.detection.detectors.features import MotionFeatures, tilt_rate_dps
from firmware_py.detection.detectors.trees import TreeEnsemble, load_model
from firmware_py.errors import ConfigError
from firmware_py.events import FALL, HELP_NEEDED, LOSS_OF_BALANCE, RECOVERED, SESSION_SUMMARY, STUMBLE, Event
from firmware_py.detection.gait import GaitTracker
from firmware_py.detection.orientation import OrientationFilter
from firmware_py.detection.pipeline import DetectionSettings, Pipeline
from hal.types import SampleBlock

ALARMS = {FALL, LOSS_OF_BALANCE}


def _events(scenario, settings: DetectionSettings = DetectionSettings()):
    pipeline = Pipeline(settings, calibration=Calibration())    # scenarios are in the body frame
    events = []
    for block in scenario.blocks(0.1):
        events += pipeline.process(block)
    return events + pipeline.finish()


def _types(events):
    return [e.type for e in events]


@pytest.mark.parametrize("seed", [0, 1])
def test_ten_minute_backward_walk_raises_nothing_when_nothing_happens(seed):
    events = _events(scenarios.backward_walk(600.0, seed=seed))
    assert _types(events) == [SESSION_SUMMARY]
    assert events[0].features["duration_s"] > 590


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_backward_fall_gives_loss_of_balance_before_the_impact_and_fall_after(seed):
    fall = scenarios.backward_fall(seed=seed)
    t_impact = fall.truth_times(FALL)[0]
    events = _events(fall)
    warnings = [e for e in events if e.type == LOSS_OF_BALANCE]
    falls = [e for e in events if e.type == FALL]
    assert len(warnings) == 1 and len(falls) == 1
    assert warnings[0].t_detect_s < t_impact
    assert warnings[0].features["direction"] == "backward"
    assert t_impact <= falls[0].t_detect_s <= t_impact + 1.0
    assert falls[0].features["lead_s"] == pytest.approx(falls[0].t_onset_s - warnings[0].t_detect_s, abs=1e-3)
    assert falls[0].features["lead_s"] > 0


def test_forward_fall_is_reported_as_forward():
    events = _events(scenarios.forward_fall(seed=5))
    falls = [e for e in events if e.type == FALL]
    assert len(falls) == 1 and falls[0].features["direction"] == "forward"


@pytest.mark.parametrize("seed,direction", [(0, "backward"), (1, "forward"), (2, "backward")])
def test_stumble_gives_stumble_and_not_fall(seed, direction):
    trace = scenarios.stumble(seed=seed, direction=direction)
    events = _events(trace)
    stumbles = [e for e in events if e.type == STUMBLE]
    assert not ALARMS & set(_types(events))
    assert len(stumbles) == 1
    assert abs(stumbles[0].t_onset_s - trace.truth_times(STUMBLE)[0]) < 1.0


def test_sitting_down_on_a_chair_raises_no_alarm():
    assert not ALARMS & set(_types(_events(scenarios.sitting(seed=2))))


def test_lying_still_after_a_fall_gives_help_needed_once():
    settings = DetectionSettings(stillness=StillnessSettings(help_after_s=10.0))
    events = _events(scenarios.backward_fall(seed=3, lie_s=40.0), settings)
    helps = [e for e in events if e.type == HELP_NEEDED]
    fall_t = next(e.t_detect_s for e in events if e.type == FALL)
    assert len(helps) == 1
    assert 10.0 <= helps[0].t_detect_s - fall_t <= 12.0


def test_no_help_needed_before_the_configured_time():
    settings = DetectionSettings(stillness=StillnessSettings(help_after_s=60.0))
    events = _events(scenarios.backward_fall(seed=3, lie_s=40.0), settings)
    assert HELP_NEEDED not in _types(events)


def test_session_summary_counts_the_stumble_when_the_walk_ends():
    events = _events(scenarios.stumble(seed=0))
    summaries = [e for e in events if e.type == SESSION_SUMMARY]
    assert len(summaries) == 1
    assert summaries[0].features["stumbles"] == 1
    assert summaries[0].features["steps"] > 20


# --- single detectors on hand-made frames ---------------------------------------------------------

def _frame(t, **kw) -> Motion:
    return Motion(t_s=t, t_peak_s=t, **kw)


def _tip(detector: BalanceDetector, lean_back_deg: float, rate_dps: float, speed_m_s: float,
         step_accel_g: float = 1.7):
    """2 s upright (the model's history is known), then one frame tipping as given; returns the detector's
    verdict on it. ``step_accel_g`` is the gait envelope's typical step peak (above 2.3 g: running)."""
    for i in range(40):
        detector.step(_frame(i * 0.05, step_accel_g=step_accel_g))
    tilt = abs(lean_back_deg)
    return detector.step(_frame(2.0, tilt_deg=tilt, lean_back_deg=lean_back_deg, tilt_rate_dps=rate_dps,
                                back_rate_dps=math.copysign(rate_dps, lean_back_deg),
                                vertical_speed_m_s=speed_m_s, step_accel_g=step_accel_g))


def _rule_only() -> BalanceDetector:
    """The backward-tip rule alone (a model that never scores above any threshold)."""
    return BalanceDetector(model=TreeEnsemble(FEATURE_NAMES, 1, -99.0, [[0]], [[0.0]], [[0.0, 0.0]]))


def test_turning_about_the_vertical_does_not_count_as_tilting_the_trunk():
    assert tilt_rate_dps((0.0, 0.0, 1.0), 0.0, 0.0, 90.0) == 0.0
    assert tilt_rate_dps((0.0, 0.0, 1.0), 0.0, -40.0, 90.0) == pytest.approx(40.0)


def test_a_frame_counts_as_still_only_without_turning_or_jolts():
    orientation, gait = OrientationFilter(), GaitTracker()
    orientation.step(0.05, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0)
    features = MotionFeatures(still_rate_dps=15.0, heading_known=True)
    mo = features.motion
    frame = (0.05, 0.04, 1.01, 0.99)                     # t_s, t_peak_s, peak and lowest |a|
    features.update(*frame, 0.02, 0.0, 0.0, 1.0, 1.0, 2.0, 0.0, 0.0, orientation, gait)
    assert mo.is_still and mo.tilt_deg == pytest.approx(0.0) and mo.accel_g == pytest.approx(1.0)
    features.update(*frame, 0.02, 0.0, 0.0, 1.0, 20.0, 0.0, 0.0, 20.0, orientation, gait)
    assert not mo.is_still and mo.tilt_rate_dps == 20.0 and mo.roll_rate_dps == 20.0
    features.update(*frame, 0.3, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, orientation, gait)
    assert not mo.is_still


def test_backward_tip_rule_fires_at_a_smaller_angle_backwards_than_forwards():
    # a slow backward slip: 20° back, 70 °/s, sinking at 0.7 m/s -- under the classic 140 °/s
    warning = _tip(_rule_only(), 20.0, 70.0, -0.7)
    assert warning is not None and warning.features["trigger"] == "backward_tip"
    assert warning.features["direction"] == "backward"
    # the same movement forwards is a bow, not a fall
    assert _tip(_rule_only(), -20.0, 70.0, -0.7) is None


def test_loss_of_balance_needs_the_waist_going_down():
    always = TreeEnsemble(FEATURE_NAMES, 1, 20.0, [[0]], [[0.0]], [[0.0, 0.0]])   # scores 20 whatever it sees
    assert _tip(BalanceDetector(model=always), 20.0, 70.0, 0.0) is None
    assert _tip(BalanceDetector(model=always), 20.0, 70.0, -0.3) is not None


def test_a_frame_with_a_missing_feature_is_not_scored():
    always = TreeEnsemble(FEATURE_NAMES, 1, 20.0, [[0]], [[0.0]], [[0.0, 0.0]])
    detector = BalanceDetector(model=always)
    for i in range(40):
        detector.step(_frame(i * 0.05))
    assert detector.step(_frame(2.0, tilt_rate_dps=math.nan, vertical_speed_m_s=-0.8)) is None
    assert detector.step(_frame(2.05, tilt_rate_dps=50.0, vertical_speed_m_s=-0.8)) is not None


def test_backward_tip_rule_is_off_while_running():
    # a runner's trunk swings back and bounces down like a backward tip, every stride
    assert _tip(_rule_only(), 20.0, 70.0, -0.7, step_accel_g=2.8) is None
    assert _tip(_rule_only(), 20.0, 70.0, -0.7, step_accel_g=1.7) is not None


def _descending_frames(detector: BalanceDetector, start_s: float, speed_m_s: float, n: int):
    """``n`` frames of the waist going down at ``speed_m_s``, tilting forwards 3° a frame."""
    out = []
    for i in range(n):
        t = start_s + i * 0.05
        out.append(detector.step(_frame(t, tilt_deg=3.0 * i, lean_back_deg=-3.0 * i, tilt_rate_dps=60.0,
                                        vertical_speed_m_s=speed_m_s)))
    return out


def _model_on(feature: str, above: float, leaf: float = 10.0) -> TreeEnsemble:
    """One stump: ``leaf`` when ``feature`` > ``above``, else -``leaf``."""
    index = FEATURE_NAMES.index(feature)
    return TreeEnsemble(FEATURE_NAMES, 1, 0.0, [[index]], [[above]], [[-leaf, leaf]])


def test_model_warns_once_the_descent_scores_above_the_threshold():
    detector = BalanceDetector(BalanceSettings(score_threshold=5.0), model=_model_on("descent_s", 0.12))
    for i in range(40):                                   # 2 s standing: the model's history is known
        assert detector.step(_frame(i * 0.05)) is None
    out = _descending_frames(detector, 2.0, -0.8, 5)
    fired = [i for i, e in enumerate(out) if e is not None]
    assert fired == [2]                                   # the third frame: 0.15 s of descent > 0.12 s
    warning = out[2]
    assert warning.type == LOSS_OF_BALANCE and warning.features["trigger"] == "model"
    assert warning.features["score"] == 10.0 and warning.features["descent_s"] == pytest.approx(0.15)
    assert warning.t_onset_s == pytest.approx(2.0)       # the waist started going down at the first frame


def test_model_is_not_asked_while_the_waist_is_not_going_down_or_before_its_history_is_known():
    always = TreeEnsemble(FEATURE_NAMES, 1, 20.0, [[0]], [[0.0]], [[0.0, 0.0]])   # scores 20 whatever it sees
    detector = BalanceDetector(BalanceSettings(score_threshold=5.0), model=always)
    # the first second: a descent, but the history ("was the wearer walking? upright?") is not known yet
    assert _descending_frames(detector, 0.0, -0.8, 20) == [None] * 20
    assert [detector.step(_frame(1.0 + i * 0.05, vertical_speed_m_s=0.0)) for i in range(20)] == [None] * 20
    assert _descending_frames(detector, 2.0, -0.8, 1)[0] is not None


def test_without_the_heading_a_descent_while_the_trunk_comes_back_upright_is_getting_up_not_a_fall():
    # synthetic: bent over 80° (or lying, or seated back), the trunk comes up 12° a frame while the waist reads
    # as going down (a sit-up's swing, a scale error of the accelerometer), as UMAFall's bends and beds did
    def warned(tilt_step_deg: float, heading_known: bool = False) -> bool:
        model = _model_on("descent_s", 0.12)
        detector = BalanceDetector(BalanceSettings(score_threshold=5.0, gravity_only_score_threshold=5.0),
                                   model=model, gravity_only_model=model)
        for i in range(40):
            detector.step(_frame(i * 0.05, tilt_deg=80.0, heading_known=heading_known))
        return any(detector.step(_frame(2.0 + i * 0.05, tilt_deg=80.0 + tilt_step_deg * i, tilt_rate_dps=240.0,
                                        vertical_speed_m_s=-0.6, heading_known=heading_known)) for i in range(6))

    assert not warned(-12.0)           # coming up 24° by the time the model would warn: getting up
    assert warned(+6.0)                # going further over: warned
    assert warned(-4.0)                # coming back 8° (a fall from a chair as the waist drops): warned
    # with the heading the model sees which way the trunk turns (SisFall's falls while sitting down come
    # back towards upright as the waist drops): it is asked
    assert warned(-12.0, heading_known=True)


def test_the_posture_after_an_impact_is_the_settled_one_not_one_frame_s_swing():
    # synthetic: a jogger's 5.6 g step; 0.8 s later one frame reads the trunk 41° over (UMAFall's 20 Hz tag:
    # its clipped gyro sample came twice), the frames around it 15°
    def verdict(last_tilts):
        detector = FallDetector(FallSettings())
        for i in range(40):
            detector.step(_frame(i * 0.05, tilt_deg=10.0), -math.inf)
        detector.step(_frame(2.0, accel_peak_g=5.6, tilt_deg=15.0), -math.inf)
        tilts = [15.0] * (17 - len(last_tilts)) + last_tilts      # the verdict 0.8 s after the impact
        return [e for e in (detector.step(_frame(2.05 + i * 0.05, tilt_deg=tilt), -math.inf)
                            for i, tilt in enumerate(tilts)) if e is not None]

    assert verdict([15.0, 15.0, 15.0, 41.0]) == []
    falls = verdict([60.0, 62.0, 61.0, 63.0])           # lying: a fall, with the settled tilt
    assert len(falls) == 1 and falls[0].features["tilt_deg"] == 60.0


def test_a_higher_score_threshold_gives_fewer_warnings():
    def warned(threshold: float) -> bool:
        detector = BalanceDetector(BalanceSettings(score_threshold=threshold), model=_model_on("descent_s", 0.12))
        for i in range(40):
            detector.step(_frame(i * 0.05))
        return any(_descending_frames(detector, 2.0, -0.8, 5))

    assert warned(9.0) and not warned(11.0)


def test_shipped_model_matches_the_features_it_is_given():
    model = load_model()
    assert model.features == FEATURE_NAMES
    assert len(model) > 0 and model.meta["cross_validation"]["by"] == "subject"


def test_recovered_when_the_wearer_is_up_and_moving_again():
    detector = StillnessDetector(StillnessSettings(recovered_s=2.0))
    detector.start(Event(FALL, 1.0, 1.8))
    out = [detector.step(_frame(2.0 + i * 0.05, tilt_deg=80.0, is_still=True)) for i in range(40)]
    out += [detector.step(_frame(4.0 + i * 0.05, tilt_deg=5.0, is_still=False)) for i in range(60)]
    recovered = [e for e in out if e is not None and e.type == RECOVERED]
    assert len(recovered) == 1
    assert recovered[0].t_detect_s == pytest.approx(6.0, abs=0.06)


@pytest.mark.parametrize("factory,field,value", [
    (BalanceSettings, "backward_tilt_deg", 0),
    (FallSettings, "impact_g", -2),
    (StumbleSettings, "rate_ratio", 0),
    (StillnessSettings, "help_after_s", -1),
])
def test_detector_settings_name_the_bad_field(factory, field, value):
    with pytest.raises(ValueError, match=rf"{field} = {value} is not allowed"):
        factory(**{field: value})


def test_fall_settings_refuse_a_confirmation_later_than_a_second():
    with pytest.raises(ValueError, match="confirm_s = 1.5 is not allowed"):
        FallSettings(confirm_s=1.5)


@pytest.mark.parametrize("seed", [0, 1])
def test_slow_backward_slip_under_classic_rate_thresholds_is_warned_before_the_impact(seed):
    # ~1.5 s slip, trunk rate under ~130 °/s: forward-fall thresholds (~140 °/s) would miss it
    slip = scenarios.slow_backward_fall(seed=seed)
    t_impact = slip.truth_times(FALL)[0]
    events = _events(slip)
    warnings = [e for e in events if e.type == LOSS_OF_BALANCE]
    assert warnings and warnings[0].t_detect_s < t_impact - 0.2
    assert warnings[0].features["trunk_rate_dps"] < 140.0
    assert FALL in _types(events)


def test_orientation_survives_a_zeroed_sample_when_the_stream_starts():
    pipeline = Pipeline(calibration=Calibration())
    walk = scenarios.backward_walk(10.0, seed=2)
    accel = walk.accel_g.copy()
    accel[:5] = 0.0                                  # a sensor that starts with a few empty readings
    events = pipeline.process(SampleBlock(walk.t_s, accel, walk.gyro_dps))
    assert not ALARMS & set(_types(events))
    assert pipeline.state()["tilt_deg"] < 10.0


def test_a_frame_length_the_model_was_not_trained_on_is_refused():
    with pytest.raises(ConfigError, match=r"frame_s = 0.02: the pre-impact model was trained on 0.05 s frames"):
        Pipeline(DetectionSettings(frame_s=0.02))


# --- the long lie: help_needed with no fall seen (issue 10) ---------------------------------------------

def _body_frame():
    from firmware_py.detection.calibration import Calibration
    return Calibration(gyro_bias_dps=(0.0, 0.0, 0.0), body_from_sensor=np.eye(3))


def _run(trace, settings, calibration=None):
    from firmware_py.detection.pipeline import Pipeline
    pipeline = Pipeline(settings, calibration=calibration)
    events = []
    for i in range(0, len(trace.t_s), 20):
        events += pipeline.process(SampleBlock(trace.t_s[i:i + 20], trace.accel_g[i:i + 20],
                                               trace.gyro_dps[i:i + 20], 25.0))
    return events, pipeline


def test_lying_still_with_no_fall_raises_help_needed_long_lie_after_the_configured_time():
    settings = DetectionSettings(stillness=StillnessSettings(long_lie_s=60.0))
    events, _ = _run(scenarios.lying_down(seed=1, stand_s=3.0, lie_s=80.0), settings, _body_frame())
    assert FALL not in _types(events)
    helps = [e for e in events if e.type == HELP_NEEDED]
    assert len(helps) == 1 and helps[0].features["reason"] == "long_lie"
    assert 60.0 <= helps[0].features["lying_s"] <= 66.0  # from lying down (~4 s) plus the configured time


def test_no_long_lie_before_the_configured_time():
    settings = DetectionSettings(stillness=StillnessSettings(long_lie_s=120.0))
    events, _ = _run(scenarios.lying_down(seed=1, stand_s=3.0, lie_s=80.0), settings, _body_frame())
    assert HELP_NEEDED not in _types(events)


def test_a_daemon_started_on_a_wearer_lying_still_raises_long_lie_and_never_learns_lying_as_upright():
    # a configured forward axis tells lying from standing (the synthetic sensor's +x is anterior)
    from firmware_py.detection.calibration import CalibrationSettings
    settings = DetectionSettings(stillness=StillnessSettings(long_lie_s=30.0),
                                 calibration=CalibrationSettings(forward_axis="+x"))
    events, pipeline = _run(scenarios.lying_down(seed=2, stand_s=0.0, lie_s=45.0), settings)  # no calibration
    helps = [e for e in events if e.type == HELP_NEEDED]
    assert len(helps) == 1 and helps[0].features["reason"] == "long_lie"
    assert helps[0].features["mounting"] == "not yet learned"
    assert pipeline.calibration is None  # lying down was not taken for upright


def test_with_no_forward_axis_a_wearer_found_lying_at_switch_on_still_gets_the_long_lie():
    # detection starts at once with any mounting; the documented mounting (+x out of the belly) still
    # tells that the wearer was lying at switch-on (a restart while they are on the floor)
    settings = DetectionSettings(stillness=StillnessSettings(long_lie_s=30.0))
    events, pipeline = _run(scenarios.lying_down(seed=2, stand_s=0.0, lie_s=45.0), settings)
    helps = [e for e in events if e.type == HELP_NEEDED]
    assert [e.features["reason"] for e in helps] == ["long_lie"]
    assert 30.0 <= helps[0].t_detect_s - helps[0].t_onset_s < 32.0


def test_with_no_forward_axis_lying_down_after_standing_raises_one_long_lie_not_two():
    settings = DetectionSettings(stillness=StillnessSettings(long_lie_s=30.0))
    events, _ = _run(scenarios.lying_down(seed=4, stand_s=3.0, lie_s=80.0), settings)
    assert [e.features["reason"] for e in events if e.type == HELP_NEEDED] == ["long_lie"]


def test_a_wearer_who_stands_first_is_learned_upright_then_long_lie_works_in_the_body_frame():
    settings = DetectionSettings(stillness=StillnessSettings(long_lie_s=30.0))
    events, pipeline = _run(scenarios.lying_down(seed=3, stand_s=3.0, lie_s=40.0), settings)
    assert pipeline.calibration is not None
    assert [e.features["reason"] for e in events if e.type == HELP_NEEDED] == ["long_lie"]


@pytest.mark.parametrize("field,value", [("long_lie_s", 5.0), ("help_after_s", 1e9), ("long_lie_s", 1e9)])
def test_stillness_times_outside_their_range_are_refused_naming_the_range(field, value):
    with pytest.raises(ValueError, match=rf"{field} = {value!r} is not allowed; use"):
        StillnessSettings(**{field: value})


def test_resting_still_in_a_reclined_chair_is_not_a_long_lie():
    from firmware_py.detection.detectors.motion import Motion

    detector = StillnessDetector(StillnessSettings(long_lie_s=30.0))
    out = []
    for i in range(2000):  # 100 s reclined at 55 degrees, perfectly still
        mo = Motion()
        mo.t_s, mo.tilt_deg, mo.is_still = i * 0.05, 55.0, True
        out.append(detector.step(mo))
    assert [e for e in out if e is not None] == []
