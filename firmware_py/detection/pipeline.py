"""The detection pipeline: sample blocks in, events out. One object serves the daemon, replay and evaluate.

Stages (each a small object with its own state): ``frames`` (fixed ~50 ms frames, numpy) →
``calibration`` (gyro bias, sensor → body frame; when none is given, ``mounting.py`` learns it as it goes)
→ ``orientation`` (tilt, its direction, vertical speed) → ``gait`` (steps, walking, envelope, upright
reference) → ``detectors/features`` (the frame's :class:`Motion` record) → ``detectors`` (loss_of_balance,
fall, stumble, help_needed / recovered, session summary). The pipeline only steps these stages in order and
keeps the mounting and walking-bout bookkeeping between them.

Pure computation: no clock, no logging, and no I/O but reading the pre-impact model file when none is
passed in; time is the samples' ``t_s``. Frames are counted from the stream's first sample, so the events are the same whatever the block sizes (one sample at a
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

import math
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional

import numpy as np

from firmware_py.detection import mounting
from firmware_py.detection.calibration import Calibration, CalibrationSettings, RestLearner
from firmware_py.detection.detectors import (BalanceDetector, BalanceSettings, FallDetector, FallSettings,
                                             SessionSettings, SessionTracker, StillnessDetector, StillnessSettings,
                                             StumbleDetector, StumbleSettings)
from firmware_py.detection.detectors.features import MotionFeatures, tilt_rate_dps
from firmware_py.detection.detectors.stillness import long_lie_event
from firmware_py.detection.detectors.trees import TreeEnsemble
from firmware_py.errors import ConfigError
from firmware_py.events import Event
from firmware_py.detection.frames import Framer, Frames
from firmware_py.detection.gait import GaitSettings, GaitTracker
from firmware_py.detection.heading import (HEADING_WALK_S, MIN_BOUT_FRAMES, RUNNING_ACCEL_G, UNKNOWN, GaitCues,
                                           HeadingLearner)
from firmware_py.detection.orientation import OrientationFilter, OrientationSettings
from hal.mpu6050_settings import SensorSettings
from hal.types import SampleBlock


@dataclass(frozen=True)
class DetectionSettings:
    """Everything the detection pipeline can be tuned with (the ``[detection]`` config section).

    Attributes
    ----------
    frame_s : length of the frames every stage works on (s)
    still_rate_dps : angular rate below which the wearer counts as still (with |a| spread < 0.1 g)
    """

    frame_s: float = 0.05
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


#: while walking uncalibrated, how often the mounting is looked at (s): often enough, and cheap
LEARN_EVERY_S = 0.5


class Pipeline:
    """Streaming detection; see the module docstring.

    Parameters
    ----------
    settings : DetectionSettings
    calibration : Calibration or None
        The mounting and gyro bias; None learns them (``mounting.py``): gravity from the first samples,
        the heading from ``settings.calibration.forward_axis`` or from walking. Detection runs meanwhile.
    model : TreeEnsemble or None
        The pre-impact model; None reads the one ``settings.balance`` names (see
        ``detectors.balance.load_model_for``: read it once when building many pipelines).
    gyro_range_dps : float
        The full scale the gyroscope was set to (``[sensor] gyro_range_dps``; for a recording, its
        sensor's): frames with a sample at it are overrange and the tilt is re-learned from the accelerometer.
    """

    def __init__(self, settings: DetectionSettings = DetectionSettings(),
                 calibration: Optional[Calibration] = None, model: Optional[TreeEnsemble] = None,
                 gyro_range_dps: float = SensorSettings.gyro_range_dps) -> None:
        self.settings = settings
        self.calibration = calibration
        self.mounting = mounting.CALIBRATED if calibration is not None else mounting.GRAVITY_ONLY
        # Lying at switch-on (a restart while the wearer is on the floor) is told by the forward axis: the
        # configured one, else the documented mounting's (+x out of the belly). With an axis configured,
        # lying is not taken for upright; without one, detection starts at once (any mounting), and until
        # walking has shown the upright the wearer keeps, lying so still counts towards a long lie.
        self._lying = RestLearner(settings.calibration) if calibration is None else None
        self._early_lie_sent = False
        self._heading: Optional[HeadingLearner] = None
        self._bout = GaitCues()             # the travel cue of the current walking bout
        self._bout_start = (0.0, 0)         # (t_s, steps) when the bout started
        self._was_walking = False
        self._bout_open = False             # a bout too short to tell, waiting for the next one
        self._walking_direction = UNKNOWN
        self._walking_up: tuple = (-math.inf, (0.0, 0.0, 1.0))    # (t_s, slow mean of "up" while walking)
        self._start_pending = calibration is None    # z came from one reading: take the converged "up"
        self._pending_bouts: List[tuple] = []         # bouts of this walk ended before the heading was known
        self._next_learn_t = -math.inf                # the mounting is looked at a few times a second
        self._framer = Framer(settings.frame_s, gyro_range_dps)
        self._orientation = OrientationFilter(settings.orientation)
        self._gait = GaitTracker(settings.gait)
        self._balance = BalanceDetector(settings.balance, model)
        trained_frame_s = self._balance.model.meta.get("trained", {}).get("frame_s")
        if trained_frame_s is not None and abs(trained_frame_s - settings.frame_s) > 1e-9:
            # the model's inputs (a frame's smallest |a|, speeds four frames back) mean something else
            raise ConfigError(f"[detection] frame_s = {settings.frame_s}: the pre-impact model was trained on "
                              f"{trained_frame_s} s frames; use {trained_frame_s}, or retrain the model with "
                              f"scripts/train_pre_impact.py")
        self._fall = FallDetector(settings.fall)
        self._stumble = StumbleDetector(settings.stumble)
        self._stillness = StillnessDetector(settings.stillness)
        self._session = SessionTracker(settings.session)
        self._features = MotionFeatures(settings.still_rate_dps, heading_known=self.mounting == mounting.CALIBRATED)
        self._motion = self._features.motion       # the current frame's features, refilled every frame
        self._detected = False                     # a frame has been through the detectors (state() has data)

    def process(self, block: SampleBlock) -> List[Event]:
        """Feed a block of samples (sensor axes); returns the events it completed, in detection order."""
        frames = self._framer.push(block)
        if frames is None:
            return []
        if self.calibration is None:
            first = mounting.first_upright(frames.accel_g, self.settings.calibration.forward_axis)
            if self._lying is not None:
                self._lying.learn(frames.t_s, frames.dt_s, frames.accel_g, frames.gyro_dps, frames.accel_spread_g)
            if first < 0:
                return self._long_lie_before_mounting(float(frames.t_s[-1]))
            if self.settings.calibration.forward_axis:
                self._lying = None
            self.calibration, self.mounting = mounting.start_from_gravity(frames.accel_g[first],
                                                                          self.settings.calibration.forward_axis)
            if self.mounting == mounting.GRAVITY_ONLY:
                self._heading = HeadingLearner()
            self._motion.heading_known = self.mounting != mounting.GRAVITY_ONLY
            frames = _tail(frames, first)
            return self._detect(frames) + self._long_lie_before_walking(frames)
        if self._lying is not None:
            self._lying.learn(frames.t_s, frames.dt_s, frames.accel_g, frames.gyro_dps, frames.accel_spread_g)
        return self._detect(frames) + self._long_lie_before_walking(frames)

    def _long_lie_before_walking(self, frames: Frames) -> List[Event]:
        """Started with no forward axis: the start-up posture stood for upright, so the stillness detector
        cannot see a wearer who was already lying; the documented mounting's lying time does, until the
        wearer has walked (then the body frame holds the upright walked in)."""
        if self._lying is None or not len(frames.t_s):
            return []
        if self._gait.bout_steps >= mounting.REBASE_AFTER_STEPS or self.mounting != mounting.GRAVITY_ONLY:
            self._lying = None
            return []
        if self._stillness.watching or not self._motion.is_still:   # the last frame _detect has just seen
            return []
        return self._long_lie_before_mounting(float(frames.t_s[-1]))

    def _long_lie_before_mounting(self, t_s: float) -> List[Event]:
        """No upright posture yet, but lying (the configured forward axis steep) for ``long_lie_s``."""
        lying_s = self._lying.lying_s if self._lying is not None else 0.0
        if lying_s < self.settings.stillness.long_lie_s:
            self._early_lie_sent = self._early_lie_sent and lying_s > 0
            return []
        if self._early_lie_sent:
            return []
        self._early_lie_sent = True
        return [long_lie_event(t_s - lying_s, t_s, mounting="not yet learned")]

    def finish(self) -> List[Event]:
        """End of the stream: the summary of a walk still in progress."""
        if self._was_walking or self._bout_open:
            self._end_bout(self._motion.t_s, final=True)
        summary = self._session.finish()
        return [summary] if summary is not None else []

    def record_features(self, log: List[Any]) -> None:
        """Append ``(t_s, features)`` of every frame from now on to ``log``: what the pre-impact model
        sees (``detectors/fall_features.py``); ``scripts/train_pre_impact.py`` learns from it."""
        self._balance.feature_log = log

    def samples_until_frame(self) -> Optional[int]:
        """Samples the next frame still needs (None until the rate is known): only a frame's last sample can
        complete an event, so the daemon reads the FIFO when that sample is in it."""
        return self._framer.samples_until_frame()

    @property
    def frame_samples(self) -> int:
        """Samples per frame (0 until the rate is known)."""
        return self._framer.frame_samples

    @property
    def is_watching(self) -> bool:
        """A fall or loss-of-balance episode is being watched (its ``help_needed`` may follow): a fresh pipeline,
        as after a calibration, would forget it. (Lying alone does not count: a device clipped on anew reads
        a standing wearer as lying until it is calibrated again.)"""
        return self._stillness.in_episode

    def state(self) -> Dict[str, Any]:
        """A snapshot for telemetry: tilt_deg, trunk_rate_dps, is_walking, steps, cadence_spm, ...

        Worked out when asked (telemetry every few seconds), not after every block (20 a second): it reads
        the last frame's features, which stay as they are until the next block."""
        if not self._detected:
            return {"mounting": self.mounting, "tilt_deg": None, "trunk_rate_dps": None, "is_walking": False,
                    "steps": 0, "cadence_spm": 0.0}
        mo, gait = self._motion, self._gait
        direction = self._bout.direction(self._anterior()) if self._was_walking else self._walking_direction
        return {
            "t_s": mo.t_s,
            "mounting": self.mounting,
            "walking_direction": direction if mo.is_walking else None,
            "tilt_deg": round(mo.tilt_deg, 1),
            "direction": mo.direction,
            "trunk_rate_dps": round(mo.tilt_rate_dps, 1),
            "vertical_speed_m_s": round(mo.vertical_speed_m_s, 2),
            "is_walking": bool(mo.is_walking),
            "steps": gait.steps,
            "cadence_spm": round(gait.cadence_spm, 1),
            "is_still": bool(mo.is_still),
            "envelope_rate_dps": round(gait.step_rate_dps, 1),
            "envelope_accel_g": round(gait.step_accel_g, 2),
        }

    def _detect(self, frames: Frames) -> List[Event]:
        assert self.calibration is not None
        accel, gyro = self.calibration.to_body(frames.accel_g, frames.gyro_dps)
        orientation, gait, features, mo = self._orientation, self._gait, self._features, self._motion
        balance, fall, stumble, stillness, session = (self._balance, self._fall, self._stumble,
                                                      self._stillness, self._session)
        events: List[Event] = []
        columns = zip(frames.t_s.tolist(), frames.dt_s.tolist(), accel.tolist(), gyro.tolist(),
                      frames.gyro_overrange.tolist(), frames.is_gap.tolist(), frames.t_peak_s.tolist(),
                      frames.accel_peak_g.tolist(), frames.accel_low_g.tolist(), frames.accel_spread_g.tolist())
        # One pass per frame over plain floats: with ~2 frames per 0.1 s block, numpy's per-call cost
        # would outweigh the arithmetic (see bench/pipeline.py).
        learning = self.mounting == mounting.GRAVITY_ONLY or self._start_pending
        for i, (t, dt, (ax, ay, az), (wx, wy, wz), over, gap, t_peak, peak, low, spread) in enumerate(columns):
            orientation.step(dt, ax, ay, az, wx, wy, wz, over, gap)
            up = orientation.up
            if not orientation.is_recovering:
                gait.settle(up)
            tilt_rate = tilt_rate_dps(up, wx, wy, wz)
            gait.step(t, orientation.vertical_accel_g, up, tilt_rate, peak)
            hx, hy, hz = features.update(t, t_peak, peak, low, spread, ax, ay, az, wx, wy, wz, tilt_rate,
                                         orientation, gait)
            if mo.is_walking:
                if not self._was_walking:
                    self._was_walking = True
                    if not self._bout_open:       # else the last bout was too short to tell: it goes on
                        self._bout_start = (t, gait.steps)
                        self._bout.reset()
                running = gait.step_accel_g > RUNNING_ACCEL_G
                self._bout.add(hx, hy, hz, mo.vertical_accel_g, -1.0 if running else 1.0)
                if self._heading is not None:
                    self._heading.add(t, dt, hx, hy, hz, mo.vertical_accel_g, running)
            elif self._was_walking:
                self._end_bout(t)
            if orientation.is_starting:
                continue        # the first second: "up" is converging (from one reading, uncalibrated)
            if self._start_pending and self._learn_mounting():
                events.extend(self._detect(_tail(frames, i + 1)))
                return events
            warning = balance.step(mo)
            if warning is not None:
                events.append(warning)
                stillness.start(warning)
            impact = fall.step(mo, balance.last_fired_t)
            if impact is not None:
                events.append(impact)
                stillness.start(impact)
            stumbled = stumble.step(mo, max(balance.last_fired_t, fall.last_fall_t), fall.is_pending,
                                    gait.walk_ended)
            if stumbled is not None:
                events.append(stumbled)
                session.count_stumble()
            aftermath = stillness.step(mo)
            if aftermath is not None:
                events.append(aftermath)
            if self._bout_open and gait.walk_ended:
                self._end_bout(t, final=True)
            summary = session.step(mo, gait.steps, gait.walk_ended)
            if summary is not None:
                events.append(summary)
                self._pending_bouts = []          # that walk is told; its unknown bouts stay unknown
            if learning and mo.is_walking and t >= self._next_learn_t and self._learn_mounting():
                # the body axes turned: the rest of the block in the new ones (frame by frame, so the
                # events do not depend on the block size)
                events.extend(self._detect(_tail(frames, i + 1)))
                return events
        self._detected = True
        return events


    def _anterior(self) -> Optional[tuple]:
        return None if self.mounting == mounting.GRAVITY_ONLY else (1.0, 0.0, 0.0)

    def _end_bout(self, t: float, final: bool = False) -> None:
        """A walking bout ended: its direction, steps and time go to the session summary. A bout too short
        to tell (:data:`MIN_BOUT_FRAMES`) joins the next one of the same walk, unless the walk is over
        (``final``)."""
        self._was_walking = False
        if not final and self._bout.frames < MIN_BOUT_FRAMES:
            self._bout_open = True
            return
        self._bout_open = False
        start_t, start_steps = self._bout_start
        self._walking_direction = self._bout.direction(self._anterior())
        steps, duration_s = self._gait.steps - start_steps, max(0.0, self._gait.last_step_t - start_t)
        if self._session.count_bout(self._walking_direction, steps, duration_s) and self._heading is not None:
            # told once the heading is learned, if this walk is still going on then
            self._pending_bouts.append((self._bout, steps, duration_s))
            self._bout = GaitCues()

    def _learn_mounting(self) -> bool:
        """While walking: re-base the body frame on what walking taught (the heading, or a truer upright).
        True when it did."""
        rows = None
        if self._start_pending:
            # the start-up convergence is over: its "up" is a better vertical than the first reading
            self._start_pending = False
            up = self._orientation.up
            if up[2] < math.cos(math.radians(5.0)):
                rows = mounting.rebase_rows(up, None)
                self._rebase(rows, (0.0, 0.0, 1.0))
                return True
            return False
        self._next_learn_t = self._motion.t_s + LEARN_EVERY_S
        heading = self._heading
        anterior = heading.anterior() if heading is not None and heading.walk_s >= HEADING_WALK_S else None
        if anterior is not None:
            rows = mounting.rebase_rows(self._gait.reference_up, anterior)
            self.mounting, self._heading = mounting.LEARNED, None
            self._motion.heading_known = True
            for cues, steps, duration_s in self._pending_bouts:
                self._session.tell_bout(cues.direction(anterior), steps, duration_s)
            self._pending_bouts = []
        elif self.mounting == mounting.GRAVITY_ONLY:
            self._walking_up = mounting.follow(self._walking_up, self._orientation.up, self._motion.t_s)
            if mounting.needs_upright_rebase(self._walking_up, self._orientation.up, self._gait.bout_steps):
                rows = mounting.rebase_rows(self._walking_up[1], None)
                self._heading = HeadingLearner()     # its cues were gathered around a wrong vertical
        if rows is None:
            return False
        self._rebase(rows, mounting.rotate(rows, self._gait.reference_up) if anterior is not None
                     else (0.0, 0.0, 1.0))
        return True

    def _rebase(self, rows: tuple, reference_up: tuple) -> None:
        """Turn the body axes by ``rows`` (the new axes in the old) under every stage that holds vectors."""
        self._orientation.rotate(rows)
        self._gait.rebase(reference_up)
        self._bout.rotate(rows)
        self._walking_up = (self._walking_up[0], mounting.rotate(rows, self._walking_up[1]))
        self.calibration = Calibration(self.calibration.gyro_bias_dps,
                                       np.asarray(rows) @ self.calibration.rotation)


def _tail(frames: Frames, first: int) -> Frames:
    """Frames ``first:`` (the ones after the calibration was learned)."""
    return replace(frames, **{name: getattr(frames, name)[first:] for name in frames.__dataclass_fields__})
