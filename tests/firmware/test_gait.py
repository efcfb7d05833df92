"""Gait: steps, cadence, walking or not, and the wearer's own envelope."""
from __future__ import annotations

import pytest

from firmware_py.evaluation import scenarios
from firmware_py.detection.calibration import Calibration
from firmware_py.detection.gait import GaitSettings
from firmware_py.detection.pipeline import Pipeline


def _run(scenario):
    pipeline = Pipeline(calibration=Calibration())       # scenarios are in the body frame already
    states = []
    for block in scenario.blocks(0.1):
        pipeline.process(block)
        states.append(pipeline.state())
    return pipeline, states


@pytest.mark.parametrize("cadence_spm", [70.0, 100.0, 120.0])
def test_steps_and_cadence_match_the_walk_when_walking_backwards(cadence_spm):
    walk = scenarios.backward_walk(60.0, seed=3, cadence_spm=cadence_spm)
    _, states = _run(walk)
    expected_steps = cadence_spm * (60.0 - 2.0) / 60.0       # the scenario stands for 2 s first
    assert states[-1]["steps"] == pytest.approx(expected_steps, rel=0.05)
    assert states[-1]["cadence_spm"] == pytest.approx(cadence_spm, rel=0.05)
    assert states[-1]["is_walking"]


def test_standing_still_is_not_walking():
    _, states = _run(scenarios.standing(20.0, seed=1))
    assert not any(s["is_walking"] for s in states)
    assert states[-1]["steps"] == 0


def test_envelope_is_the_wearers_own_when_they_walk_briskly():
    # a brisk, bouncy walker has bigger step peaks than the prior; the envelope must learn them, or
    # every step would look like a stumble
    brisk = scenarios.backward_walk(60.0, seed=4, cadence_spm=120.0, bounce_g=0.8)
    _, states = _run(brisk)
    assert states[-1]["envelope_accel_g"] > GaitSettings().prior_step_accel_g + 0.2


def test_gait_settings_name_a_bad_value():
    with pytest.raises(ValueError, match="max_step_interval_s = 0.2 is not allowed"):
        GaitSettings(max_step_interval_s=0.2)
