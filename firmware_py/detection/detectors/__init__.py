"""The detectors: small state machines that turn per-frame motion features into events.

``features`` fills the per-frame :class:`Motion` record they all read, from the orientation and gait stages.
``balance`` (loss_of_balance, before impact) · ``fall`` (impact + posture) · ``stumble`` (perturbation
while walking, wearer stays up) · ``stillness`` (help_needed, recovered) · ``session`` (walk summary).
"""
from firmware_py.detection.detectors.balance import BalanceDetector, BalanceSettings
from firmware_py.detection.detectors.fall import FallDetector, FallSettings
from firmware_py.detection.detectors.motion import Motion, direction_of
from firmware_py.detection.detectors.session import SessionSettings, SessionTracker
from firmware_py.detection.detectors.stillness import StillnessDetector, StillnessSettings
from firmware_py.detection.detectors.stumble import StumbleDetector, StumbleSettings

__all__ = ["BalanceDetector", "BalanceSettings", "FallDetector", "FallSettings", "Motion", "direction_of",
           "SessionSettings", "SessionTracker", "StillnessDetector", "StillnessSettings", "StumbleDetector",
           "StumbleSettings"]
