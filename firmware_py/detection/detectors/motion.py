"""What the detectors see: the motion features of one frame (~50 ms), in the body frame."""
from __future__ import annotations


class Motion:
    """Features of the current frame; the pipeline overwrites one instance every frame.

    Angles are measured from the wearer's upright reference (see ``gait.py``), rates in the body frame.
    A plain mutable record (not a dataclass) because it is refilled ~20 times a second per wearer.
    """

    __slots__ = ("t_s", "t_peak_s", "accel_peak_g", "accel_low_g", "tilt_deg", "lean_back_deg",
                 "lean_left_deg", "tilt_rate_dps", "back_rate_dps", "vertical_speed_m_s", "is_walking",
                 "step_rate_dps", "step_accel_g", "is_still", "walk_steps", "vertical_accel_g",
                 "horizontal_accel_g", "accel_g", "roll_rate_dps", "yaw_rate_dps", "heading_known")

    def __init__(self, t_s: float = 0.0, t_peak_s: float = 0.0, accel_peak_g: float = 1.0,
                 accel_low_g: float = 1.0, tilt_deg: float = 0.0, lean_back_deg: float = 0.0,
                 lean_left_deg: float = 0.0, tilt_rate_dps: float = 0.0, back_rate_dps: float = 0.0,
                 vertical_speed_m_s: float = 0.0, is_walking: bool = False, step_rate_dps: float = 60.0,
                 step_accel_g: float = 1.7, is_still: bool = False, walk_steps: int = 0,
                 vertical_accel_g: float = 0.0, horizontal_accel_g: float = 0.0, accel_g: float = 1.0,
                 roll_rate_dps: float = 0.0, yaw_rate_dps: float = 0.0, heading_known: bool = True) -> None:
        self.t_s = t_s                                  # time of the frame's last sample
        self.t_peak_s = t_peak_s                        # time of the frame's largest |a|
        self.accel_peak_g = accel_peak_g                # largest |a| in the frame
        self.accel_low_g = accel_low_g                  # smallest |a| in the frame (free fall -> 0)
        self.tilt_deg = tilt_deg                        # trunk angle from upright
        self.lean_back_deg = lean_back_deg              # pitch from upright, positive backwards
        self.lean_left_deg = lean_left_deg              # roll from upright, positive to the left
        self.tilt_rate_dps = tilt_rate_dps              # how fast the trunk tilts (|w x up|)
        self.back_rate_dps = back_rate_dps              # pitch rate, positive when tipping backwards
        self.vertical_speed_m_s = vertical_speed_m_s    # upward speed of the waist (negative = down)
        self.is_walking = is_walking
        self.step_rate_dps = step_rate_dps              # gait envelope: typical peak trunk rate per step
        self.step_accel_g = step_accel_g                # gait envelope: typical peak |a| per step
        self.is_still = is_still                        # no motion beyond sensor noise and breathing
        self.walk_steps = walk_steps                    # steps in the current run of walking steps
        self.vertical_accel_g = vertical_accel_g        # upward acceleration of the waist, gravity removed
        self.horizontal_accel_g = horizontal_accel_g    # frame-mean acceleration across "up"
        self.accel_g = accel_g                          # |frame-mean acceleration| (1 at rest)
        self.roll_rate_dps = roll_rate_dps              # body rates about the front-back axis ...
        self.yaw_rate_dps = yaw_rate_dps                # ... and about the vertical axis
        self.heading_known = heading_known              # False: "gravity only" -- back/left mean nothing yet

    @property
    def direction(self) -> str:
        """Where the trunk leans (``unknown`` until the mounting's heading is known)."""
        if not self.heading_known:
            return "unknown"
        return direction_of(self.lean_back_deg, self.lean_left_deg)


def direction_of(lean_back_deg: float, lean_left_deg: float) -> str:
    """The direction the trunk leans, in the wearer's words."""
    if abs(lean_back_deg) >= abs(lean_left_deg):
        return "backward" if lean_back_deg > 0 else "forward"
    return "left" if lean_left_deg > 0 else "right"
