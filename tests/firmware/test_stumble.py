"""The stumble detector on hand-made (synthetic) frames: where a perturbation is judged, and where not."""
from __future__ import annotations

from firmware_py.detection.detectors import Motion
from firmware_py.detection.detectors.stumble import StumbleDetector
from firmware_py.events import STUMBLE

FRAME_S = 0.05
STEP_S = 0.5
#: a trunk rate far beyond the frames' envelope (step_rate_dps = 60 °/s): a perturbation
JOLT_DPS = 250.0


def _frames(detector: StumbleDetector, start_s: float, duration_s: float, walking: bool, first_step: int = 1,
            jolt_at_s: float = -1.0) -> list:
    """Synthetic frames at a steady pace (a step every STEP_S while ``walking`` is stepping), upright; one
    frame with a jolt of JOLT_DPS at ``jolt_at_s``. Returns the events."""
    events = []
    n = round(duration_s / FRAME_S)
    for i in range(n):
        t = start_s + i * FRAME_S
        steps = first_step + int((t - start_s) / STEP_S) if walking else 0
        rate = JOLT_DPS if abs(t - jolt_at_s) < FRAME_S / 2 else 30.0
        mo = Motion(t_s=t, t_peak_s=t, tilt_rate_dps=rate, is_walking=walking and steps >= 4, walk_steps=steps,
                    step_rate_dps=60.0, step_accel_g=1.5, accel_peak_g=1.3, tilt_deg=3.0)
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


def test_a_jolt_just_after_a_walk_ended_is_still_judged_against_that_walk():
    detector = StumbleDetector()
    _walk_then_pause(detector)
    events = _frames(detector, 10.0, 5.0, walking=False, jolt_at_s=10.5)
    assert [e.type for e in events] == [STUMBLE]


def test_a_jolt_in_the_first_steps_of_the_next_walk_is_not_a_stumble():
    # the mirror in time of the test above: a walk that starts with a jolt a moment after the last one ended
    # (a walk stopping with a jolt, played backwards, as a backward walker's start looks)
    detector = StumbleDetector()
    _walk_then_pause(detector)
    events = _frames(detector, 10.0, 5.0, walking=True, first_step=1, jolt_at_s=11.0)
    assert events == []
