"""The detection pipeline: sample blocks in, events out. One object serves the daemon, replay and evaluate.

Stages (each a small object with its own state): ``frames`` (fixed ~25 ms frames, numpy) →
``calibration`` (gyro bias, sensor → body frame; learned at the first still second when none is given)
→ ``orientation`` (tilt, its direction, vertical speed) → ``gait`` (steps, walking, envelope, upright
reference) → ``detectors`` (loss_of_balance, fall, stumble, help_needed / recovered, session summary).

Pure computation: no I/O, no clock, no logging; time is the samples' ``t_s``. Frames are counted from
the stream's first sample, so the events are the same whatever the block sizes (one sample at a
time included). A block with ``lost_samples`` starts a gap: the partial frame before it is dropped and
the vertical velocity forgotten.

Example::

    pipeline = Pipeline(DetectionSettings(), calibration=None)
    for block in blocks:               # SampleBlock: t_s, accel_g, gyro_dps (sensor axes)
        for event in pipeline.process(block):
            print(event.type, event.t_detect_s, event.features)
    pipeline.finish()                  # the last walk's session_summary, if any
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional

import numpy as np

from firmware_py.calibration import Calibration, CalibrationSettings, RestLearner
from firmware_py.detectors import (BalanceDetector, BalanceSettings, FallDetector, FallSettings, Motion,
                                   SessionSettings, SessionTracker, StillnessDetector, StillnessSettings,
                                   StumbleDetector, StumbleSettings, direction_of)
from firmware_py.events import Event
from firmware_py.frames import Framer, Frames
from firmware_py.gait import GaitSettings, GaitTracker
from firmware_py.orientation import OrientationFilter, OrientationSettings
from hal.types import SampleBlock


@dataclass(frozen=True)
class DetectionSettings:
    """Everything the detection pipeline can be tuned with (the ``[detection]`` config section).

    Attributes
    ----------
    frame_s : length of the frames every stage works on (s)
    still_rate_dps : angular rate below which the wearer counts as still (with |a| spread < 0.1 g)
    """

    frame_s: float = 0.025
    still_rate_dps: float = 15.0
    calibration: CalibrationSettings = field(default_factory=CalibrationSettings)
    orientation: OrientationSettings = field(default_factory=OrientationSettings)
    gait: GaitSettings = field(default_factory=GaitSettings)
    balance: BalanceSettings = field(default_factory=BalanceSettings)
    fall: FallSettings = field(default_factory=FallSettings)
    stumble: StumbleSettings = field(default_factory=StumbleSettings)
    stillness: StillnessSettings = field(default_factory=StillnessSettings)
    session: SessionSettings = field(default_factory=SessionSettings)

    def __post_init__(self) -> None:
        if not 0.001 <= self.frame_s <= 0.1:
            raise ValueError(f"frame_s = {self.frame_s} is not allowed; use 0.001 to 0.1 s")
        if not self.still_rate_dps > 0:
            raise ValueError(f"still_rate_dps = {self.still_rate_dps} is not allowed; use a positive number")


class Pipeline:
    """Streaming detection; see the module docstring.

    Parameters
    ----------
    settings : DetectionSettings
    calibration : Calibration or None
        The mounting and gyro bias; None learns them at the first second of standing still (no events
        are raised before that).
    """

    def __init__(self, settings: DetectionSettings = DetectionSettings(),
                 calibration: Optional[Calibration] = None) -> None:
        self.settings = settings
        self.calibration = calibration
        self._learner = RestLearner(settings.calibration) if calibration is None else None
        self._framer = Framer(settings.frame_s, settings.orientation.gyro_range_dps)
        self._orientation = OrientationFilter(settings.orientation)
        self._gait = GaitTracker(settings.gait)
        self._balance = BalanceDetector(settings.balance)
        self._fall = FallDetector(settings.fall)
        self._stumble = StumbleDetector(settings.stumble)
        self._stillness = StillnessDetector(settings.stillness)
        self._session = SessionTracker(settings.session)
        self._state: Dict[str, Any] = {"calibrated": calibration is not None, "tilt_deg": None,
                                       "trunk_rate_dps": None, "is_walking": False, "steps": 0,
                                       "cadence_spm": 0.0}

    def process(self, block: SampleBlock) -> List[Event]:
        """Feed a block of samples (sensor axes); returns the events it completed, in detection order."""
        frames = self._framer.push(block)
        if frames is None:
            return []
        if self.calibration is None:
            assert self._learner is not None
            cal, first = self._learner.learn(frames.t_s, frames.dt_s, frames.accel_g, frames.gyro_dps,
                                             frames.accel_spread_g)
            if cal is None:
                return []
            self.calibration = cal
            self._state["calibrated"] = True
            frames = _tail(frames, first)
            if len(frames) == 0:
                return []
        return self._detect(frames)

    def finish(self) -> List[Event]:
        """End of the stream: the summary of a walk still in progress."""
        summary = self._session.finish()
        return [summary] if summary is not None else []

    def state(self) -> Dict[str, Any]:
        """A snapshot for telemetry: tilt_deg, trunk_rate_dps, is_walking, steps, cadence_spm, ..."""
        return dict(self._state)

    def _detect(self, frames: Frames) -> List[Event]:
        cal = self.calibration
        assert cal is not None
        accel, gyro = cal.to_body(frames.accel_g, frames.gyro_dps)
        posture = self._orientation.update(frames.dt_s, accel, gyro, frames.gyro_overrange, frames.is_gap)
        up = posture.up
        # how fast "up" moves in the body: |ω × up| (yaw about the vertical does not tilt the trunk)
        wx, wy, wz = gyro[:, 0], gyro[:, 1], gyro[:, 2]
        ux, uy, uz = up[:, 0], up[:, 1], up[:, 2]
        tilt_rate = np.sqrt((wy * uz - wz * uy) ** 2 + (wz * ux - wx * uz) ** 2 + (wx * uy - wy * ux) ** 2)
        gait = self._gait.update(frames.t_s, posture.vertical_accel_g, up, tilt_rate, frames.accel_peak_g)
        ref = gait.reference_up
        cos_rel = np.clip(np.einsum("ij,ij->i", up, ref), -1.0, 1.0)
        lean_back = posture.lean_back_deg - np.degrees(np.arctan2(ref[:, 0], ref[:, 2]))
        lean_left = posture.lean_left_deg - np.degrees(np.arctan2(-ref[:, 1], ref[:, 2]))
        motion = Motion(
            t_s=frames.t_s,
            t_peak_s=frames.t_peak_s,
            accel_peak_g=frames.accel_peak_g,
            accel_low_g=frames.accel_low_g,
            tilt_deg=np.degrees(np.arccos(cos_rel)),
            lean_back_deg=lean_back,
            lean_left_deg=lean_left,
            tilt_rate_dps=tilt_rate,
            back_rate_dps=-gyro[:, 1],
            vertical_speed_m_s=posture.vertical_speed_m_s,
            is_walking=gait.is_walking,
            step_rate_dps=gait.step_rate_dps,
            step_accel_g=gait.step_accel_g,
            is_still=(np.linalg.norm(gyro, axis=1) < self.settings.still_rate_dps) & (frames.accel_spread_g < 0.1),
        )
        balance = self._balance.process(motion)
        falls = self._fall.process(motion, balance)
        alarms = balance + falls
        stumbles = self._stumble.process(motion, alarms, self._fall.is_pending)
        aftermath = self._stillness.process(motion, alarms)
        summaries = self._session.process(motion, gait.steps, gait.walk_ended, stumbles)
        events = balance + falls + stumbles + aftermath + summaries
        events.sort(key=lambda e: e.t_detect_s)
        last = -1
        self._state.update({
            "t_s": float(frames.t_s[last]),
            "tilt_deg": round(float(motion.tilt_deg[last]), 1),
            "direction": direction_of(float(lean_back[last]), float(lean_left[last])),
            "trunk_rate_dps": round(float(tilt_rate[last]), 1),
            "vertical_speed_m_s": round(float(posture.vertical_speed_m_s[last]), 2),
            "is_walking": bool(gait.is_walking[last]),
            "steps": int(gait.steps[last]),
            "cadence_spm": round(float(gait.cadence_spm[last]), 1),
            "is_still": bool(motion.is_still[last]),
        })
        return events


def _tail(frames: Frames, first: int) -> Frames:
    """Frames ``first:`` (the ones after the calibration was learned)."""
    return replace(frames, **{name: getattr(frames, name)[first:] for name in frames.__dataclass_fields__})
