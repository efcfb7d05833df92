"""The stumble detector on hand-made (synthetic) frames: where a perturbation is judged, and where not."""
from __future__ import annotations

from typing import Optional

import numpy as np
import pytest

from firmware_py.detection.calibration import Calibration
from firmware_py.detection.detectors import Motion
from firmware_py.detection.detectors.stumble import StumbleDetector, StumbleSettings
from firmware_py.detection.pipeline import Pipeline
from firmware_py.evaluation import scenarios, segments
from firmware_py.events import STUMBLE

FRAME_S = 0.05
STEP_S = 0.5
#: a trunk rate far beyond the frames' envelope (step_rate_dps = 60 °/s): a perturbation
JOLT_DPS = 250.0
#: an |a| peak far beyond the frames' envelope (step_accel_g = 1.5 g): a jolt
JOLT_G = 4.0


def _frames(detector: StumbleDetector, start_s: float, duration_s: float, walking: bool, first_step: int = 1,
            jolt_at_s: float = -1.0, jolt_g: float = JOLT_G, hurried_step_at_s: Optional[float] = None,
            steps_after_g: float = 1.3, steps_after_s: float = 1.0) -> list:
    """Synthetic frames at a steady pace (a step every STEP_S while ``walking`` is stepping), upright; one
    frame with a trunk rate of JOLT_DPS and an |a| peak of ``jolt_g`` at ``jolt_at_s`` (the walking frames
    peak at 1.3 g); with ``hurried_step_at_s`` one step comes there, early, and the pace goes on from it;
    from ``steps_after_s`` after the jolt the steps peak at ``steps_after_g``. Returns the events."""
    events = []
    n = round(duration_s / FRAME_S)
    for i in range(n):
        t = start_s + i * FRAME_S
        steps = first_step + int((t - start_s) / STEP_S + 1e-9) if walking else 0
        if walking and hurried_step_at_s is not None and t >= hurried_step_at_s - 1e-9:
            steps = first_step + int((hurried_step_at_s - start_s) / STEP_S) + 1 + int((t - hurried_step_at_s)
                                                                                        / STEP_S + 1e-9)
        jolt = abs(t - jolt_at_s) < FRAME_S / 2
        after = jolt_at_s >= 0.0 and t >= jolt_at_s + steps_after_s
        peak = jolt_g if jolt else (steps_after_g if after else 1.3)
        mo = Motion(t_s=t, t_peak_s=t, tilt_rate_dps=JOLT_DPS if jolt else 30.0,
                    is_walking=walking and steps >= 4, walk_steps=steps,
                    step_rate_dps=60.0, step_accel_g=1.5, accel_peak_g=peak, tilt_deg=3.0)
        event = detector.step(mo, alarm_t=-1.0, fall_pending=False)
        if event is not None:
            events.append(event)
    return events


def _walk_then_pause(detector: StumbleDetector) -> None:
    """10 s of walking (20 steps), then the walk ends: the last step's bout runs out."""
    assert _frames(detector, 0.0, 10.0, walking=True) == []


def test_a_jolt_while_walking_is_a_stumble():
    detector = StumbleDetector()
    events = _frames(detector, 0.0, 15.0, walking=True, jolt_at_s=10.0)
    assert [e.type for e in events] == [STUMBLE]
    # reported once the next steps showed the wearer walking again, not running
    assert events[0].t_onset_s == pytest.approx(10.0)
    assert 11.5 <= events[0].t_detect_s <= 10.0 + 1.5 + 3 * STEP_S + FRAME_S


def test_a_trunk_swing_on_an_unbroken_step_rhythm_is_not_a_stumble():
    # the trunk swings at 4x the envelope but nothing jolts and the steps go on at the same pace: a glance
    # back or a lean, the wearer's own movement
    detector = StumbleDetector()
    assert _frames(detector, 0.0, 15.0, walking=True, jolt_at_s=10.0, jolt_g=1.3) == []


def test_a_trunk_swing_with_a_hurried_step_is_a_stumble():
    # the same swing, and the next step comes after 0.3 s instead of 0.5 s: the recovery step of a trip
    detector = StumbleDetector()
    events = _frames(detector, 0.0, 15.0, walking=True, jolt_at_s=10.0, jolt_g=1.3, hurried_step_at_s=10.3)
    assert [e.type for e in events] == [STUMBLE]


def test_a_jolt_followed_by_running_steps_is_not_a_stumble():
    # the wearer broke into a run: the "jolt" was the first stride, before the envelope learned the pace
    detector = StumbleDetector()
    assert _frames(detector, 0.0, 15.0, walking=True, jolt_at_s=10.0, steps_after_g=3.0) == []


def test_a_jolt_after_which_the_wearer_stands_still_is_a_stumble_after_the_settle_wait():
    detector = StumbleDetector()
    assert _frames(detector, 0.0, 10.0, walking=True) == []
    events = _frames(detector, 10.0, 6.0, walking=False, jolt_at_s=10.1)
    assert [e.type for e in events] == [STUMBLE]
    settings = StumbleSettings()
    assert events[0].t_detect_s == pytest.approx(10.1 + settings.confirm_s + settings.settle_s, abs=FRAME_S)


def _slow_steps(detector: StumbleDetector, start_s: float, duration_s: float, step_every_s: float) -> list:
    """Synthetic frames: a wearer taking a slow step every ``step_every_s`` (not yet walking), upright."""
    events = []
    for i in range(round(duration_s / FRAME_S)):
        t = start_s + i * FRAME_S
        mo = Motion(t_s=t, t_peak_s=t, tilt_rate_dps=20.0, is_walking=False,
                    walk_steps=1 + int((t - start_s) / step_every_s + 1e-9), step_rate_dps=60.0,
                    step_accel_g=1.5, accel_peak_g=1.2, tilt_deg=3.0)
        event = detector.step(mo, alarm_t=-1.0, fall_pending=False)
        if event is not None:
            events.append(event)
    return events


def test_a_trip_then_a_pause_then_slow_steps_is_a_stumble_not_a_run():
    # no step between the jolt and the verdict: the first step after it must not carry the jolt's 4 g peak
    detector = StumbleDetector()
    assert _frames(detector, 0.0, 10.0, walking=True) == []
    assert _frames(detector, 10.0, 2.5, walking=False, jolt_at_s=10.1) == []
    events = _slow_steps(detector, 12.5, 4.0, step_every_s=1.2)   # two steps within the 3 s wait
    assert [e.type for e in events] == [STUMBLE]


def test_a_stumble_waiting_for_the_next_steps_is_decided_when_the_walk_ends():
    # so the walk's session summary, sent at that frame, counts it
    detector = StumbleDetector()
    _walk_then_pause(detector)
    assert _frames(detector, 10.0, 2.5, walking=False, jolt_at_s=10.5) == []   # verdict at 12.0, then waiting
    mo = Motion(t_s=12.5, t_peak_s=12.5, tilt_rate_dps=20.0, is_walking=False, walk_steps=0, step_rate_dps=60.0,
                step_accel_g=1.5, accel_peak_g=1.0, tilt_deg=3.0)
    event = detector.step(mo, alarm_t=-1.0, fall_pending=False, walk_ended=True)
    assert event is not None and event.type == STUMBLE and event.t_detect_s == pytest.approx(12.5)


def test_stumble_settings_name_a_rhythm_change_that_is_no_change():
    with pytest.raises(ValueError, match="stumble.rhythm_change = 1.0 is not allowed"):
        StumbleSettings(rhythm_change=1.0)


def test_a_jolt_just_after_a_walk_ended_is_still_judged_against_that_walk():
    detector = StumbleDetector()
    _walk_then_pause(detector)
    events = _frames(detector, 10.0, 6.0, walking=False, jolt_at_s=10.5)
    assert [e.type for e in events] == [STUMBLE]


def test_a_jolt_in_the_first_steps_of_the_next_walk_is_not_a_stumble():
    # the mirror in time of the test above: a walk that starts with a jolt a moment after the last one ended
    # (a walk stopping with a jolt, played backwards, as a backward walker's start looks)
    detector = StumbleDetector()
    _walk_then_pause(detector)
    events = _frames(detector, 10.0, 5.0, walking=True, first_step=1, jolt_at_s=11.0)
    assert events == []


# --- through the whole pipeline, on synthetic traces (segments.py): never evidence, only the rule's shape ---

def _pipeline_stumbles(builder: segments.ScenarioBuilder, name: str) -> list:
    trace = scenarios._build(builder, name)
    pipeline = Pipeline(calibration=Calibration())          # synthetic traces are in the body frame
    events = []
    for block in trace.blocks(0.1):
        events += pipeline.process(block)
    return [e for e in events + pipeline.finish() if e.type == STUMBLE]


def test_synthetic_trunk_swing_while_walking_on_at_the_same_pace_is_not_a_stumble():
    # a walk with one quick 15° trunk swing and back (~150 °/s, a stumble's rate) but no jolt, and the
    # steps go on at the same pace: a glance back or a lean (played backwards, the walks showed such swings
    # passing 2x the envelope by a few per cent)
    b = segments.ScenarioBuilder(scenarios.DEFAULT_RATE_HZ, np.random.default_rng(7))
    segments.stand(b, 2.0)
    segments.walk(b, 16.0, 100.0, 0.3, 3.0)
    t = b.samples(16.0)
    swing = np.where(t < 10.0, 0.0, np.where(t < 10.15, segments.smoothstep((t - 10.0) / 0.15),
                                             1.0 - segments.smoothstep((t - 10.15) / 0.5)))
    b.pitch[-1] = b.pitch[-1] + 15.0 * swing
    assert _pipeline_stumbles(b, "synthetic_trunk_swing") == []


def test_synthetic_walk_that_breaks_into_a_run_is_not_a_stumble():
    # the first strides of a run jolt far beyond the walking envelope; the steps after them are running steps
    b = segments.ScenarioBuilder(scenarios.DEFAULT_RATE_HZ, np.random.default_rng(8))
    segments.stand(b, 2.0)
    segments.walk(b, 10.0, 100.0, 0.3, 3.0)
    segments.walk(b, 10.0, 160.0, 1.8, 8.0)
    assert _pipeline_stumbles(b, "synthetic_walk_then_run") == []


def test_synthetic_stumble_through_the_pipeline_is_still_one():
    trace = scenarios.stumble(seed=3)
    b_events = []
    pipeline = Pipeline(calibration=Calibration())
    for block in trace.blocks(0.1):
        b_events += pipeline.process(block)
    stumbles = [e for e in b_events + pipeline.finish() if e.type == STUMBLE]
    assert len(stumbles) == 1
    assert abs(stumbles[0].t_onset_s - trace.truth_times(STUMBLE)[0]) < 1.0
