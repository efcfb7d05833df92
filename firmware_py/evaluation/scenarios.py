"""Seeded synthetic traces of backward walking, stumbles and falls — for tests and the demo, never evidence.

Every trace is **synthetic** (``Scenario.synthetic`` is True and "synthetic" is in its name): it shows the
detectors a plausible signal with a known truth, nothing more. Real performance is measured on real
recordings (``retrowalk evaluate``).

How a trace is made (physically consistent, in the body frame: x anterior, y left, z up):

- the movements (``segments.py``: stand, walk, stumble, fall, lie still, sit down) give the trunk's
  attitude -- pitch (forward lean positive, backward negative), roll (lean to the right positive) and yaw,
  as ``R = Rz(yaw) Ry(pitch) Rx(roll)`` -- and the waist's linear acceleration in the world frame (g);
- the accelerometer reads the specific force ``R.T @ (a_world + [0, 0, 1])`` in g, so standing still reads
  ``(0, 0, 1)`` and lying on the back ``(1, 0, 0)``;
- the gyroscope reads the body angular rate from the Euler-angle rates (ZYX kinematics), so integrating it
  gives back the attitude;
- white noise (accelerometer ~0.01 g, gyroscope ~0.3 °/s rms) and a small constant gyro bias are added.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, List, Optional, Tuple

import numpy as np

from hal.types import SampleBlock

from . import segments
from .recording import Recording, sample_blocks

__all__ = [
    "Scenario", "standing", "backward_walk", "stumble", "backward_fall", "slow_backward_fall", "forward_fall",
    "fall_from_standing", "sitting", "lying_down", "demo_walk", "DEFAULT_RATE_HZ",
]

DEFAULT_RATE_HZ = 200.0
_ACCEL_NOISE_G = 0.01
_GYRO_NOISE_DPS = 0.3
_GYRO_BIAS_DPS = 0.5


@dataclass(frozen=True, eq=False)
class Scenario:
    """A synthetic trace in the body frame with its ground truth.

    Attributes
    ----------
    t_s : ndarray, shape (n,)
        Seconds from the start, at a steady rate.
    accel_g, gyro_dps : ndarray, shape (n, 3)
        Specific force in g and angular rate in °/s, body frame (x anterior, y left, z up).
    truth : list of (event type, t_s)
        What a perfect detector reports and when: ``stumble`` at the perturbation, ``loss_of_balance`` at
        the fall's onset, ``fall`` at the impact, ``help_needed`` when the configured stillness has passed.
    name : str
        Always contains "synthetic".
    synthetic : bool
        Always True.
    tilt_deg : ndarray, shape (n,)
        The true trunk tilt from vertical, in degrees (for checking orientation estimates).
    """

    t_s: np.ndarray
    accel_g: np.ndarray
    gyro_dps: np.ndarray
    truth: List[Tuple[str, float]]
    name: str
    synthetic: bool = True
    tilt_deg: Optional[np.ndarray] = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.synthetic or "synthetic" not in self.name:
            raise ValueError(f"scenario name {self.name!r}: synthetic traces must say so (synthetic=True and "
                             "'synthetic' in the name)")

    def __len__(self) -> int:
        return len(self.t_s)

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1] - self.t_s[0]) if len(self.t_s) > 1 else 0.0

    def truth_times(self, event_type: str) -> List[float]:
        return [t for kind, t in self.truth if kind == event_type]

    def blocks(self, block_s: float = 0.1) -> Iterator[SampleBlock]:
        """The trace as consecutive ``SampleBlock``s of ``block_s`` seconds (the daemon's read size)."""
        return sample_blocks(self.t_s, self.accel_g, self.gyro_dps, block_s)

    @property
    def rate_hz(self) -> float:
        return float(1.0 / np.median(np.diff(self.t_s))) if len(self.t_s) > 1 else DEFAULT_RATE_HZ

    def to_recording(self, kind: Optional[str] = None) -> Recording:
        """This trace as a :class:`Recording` (body frame, so the mounting is the identity)."""
        falls = self.truth_times("fall")
        if kind is None:
            kind = "fall" if falls else "stumble" if self.truth_times("stumble") else "other"
        impact = int(np.searchsorted(self.t_s, falls[0])) if falls and kind == "fall" else None
        return Recording(name=self.name, t_s=self.t_s, accel_g=self.accel_g, gyro_dps=self.gyro_dps,
                         body_from_sensor=np.eye(3), kind=kind, activity=kind, impact_index=impact,
                         source_path="", synthetic=True)


def _build(b: segments.ScenarioBuilder, name: str) -> Scenario:
    """What the IMU reads for the built motion: specific force and body rates, with noise and a gyro bias."""
    pitch = np.radians(np.concatenate(b.pitch))
    roll = np.radians(np.concatenate(b.roll))
    yaw = np.radians(np.concatenate(b.yaw))
    lin = np.concatenate(b.lin)
    n = len(pitch)
    t_s = np.arange(n) / b.rate_hz
    dt = 1.0 / b.rate_hz
    cp, sp, cr, sr = np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    # world up seen from the body: R.T @ [0, 0, 1] with R = Rz(yaw) Ry(pitch) Rx(roll)
    specific = lin + np.array([0.0, 0.0, 1.0])
    cy, sy = np.cos(yaw), np.sin(yaw)
    # R.T = Rx(-roll) Ry(-pitch) Rz(-yaw), applied to the world-frame specific force
    fx = cy * specific[:, 0] + sy * specific[:, 1]
    fy = -sy * specific[:, 0] + cy * specific[:, 1]
    fz = specific[:, 2]
    gx = cp * fx - sp * fz
    gz = sp * fx + cp * fz
    accel = np.column_stack([gx, cr * fy + sr * gz, -sr * fy + cr * gz])
    # body rates from ZYX Euler rates
    droll, dpitch, dyaw = (np.gradient(a, dt) for a in (roll, pitch, yaw))
    gyro = np.degrees(np.column_stack([
        droll - dyaw * sp,
        dpitch * cr + dyaw * cp * sr,
        -dpitch * sr + dyaw * cp * cr,
    ]))
    accel = accel + b.rng.normal(0.0, _ACCEL_NOISE_G, (n, 3))
    bias = b.rng.uniform(-_GYRO_BIAS_DPS, _GYRO_BIAS_DPS, 3)
    gyro = gyro + bias + b.rng.normal(0.0, _GYRO_NOISE_DPS, (n, 3))
    tilt = np.degrees(np.arccos(np.clip(cp * cr, -1.0, 1.0)))
    if "synthetic" not in name:
        name = f"synthetic_{name}"
    return Scenario(t_s, accel, gyro, sorted(b.truth, key=lambda e: e[1]), name, True, tilt)


def _start(seed: int, rate_hz: float) -> segments.ScenarioBuilder:
    if rate_hz <= 0:
        raise ValueError(f"rate_hz = {rate_hz} is not allowed; use a positive sample rate")
    return segments.ScenarioBuilder(rate_hz, np.random.default_rng(seed))


def standing(duration_s: float = 10.0, seed: int = 0, rate_hz: float = DEFAULT_RATE_HZ) -> Scenario:
    """Quiet standing (synthetic)."""
    b = _start(seed, rate_hz)
    segments.stand(b, duration_s)
    return _build(b, f"synthetic_standing_seed{seed}")


def backward_walk(duration_s: float = 60.0, seed: int = 0, cadence_spm: float = 100.0,
                  bounce_g: float = 0.3, lean_deg: float = 3.0, rate_hz: float = DEFAULT_RATE_HZ) -> Scenario:
    """Backward walking at ``cadence_spm`` steps per minute, after 2 s of standing (synthetic)."""
    b = _start(seed, rate_hz)
    segments.stand(b, 2.0)
    segments.walk(b, max(duration_s - 2.0, 0.0), cadence_spm, bounce_g, lean_deg)
    return _build(b, f"synthetic_backward_walk_{cadence_spm:g}spm_seed{seed}")


def stumble(seed: int = 0, peak_tilt_deg: float = 15.0, direction: str = "backward",
            cadence_spm: float = 100.0, walk_s: float = 8.0, rate_hz: float = DEFAULT_RATE_HZ) -> Scenario:
    """Backward walk, a stumble (trunk swings ``peak_tilt_deg`` and recovers), walk on (synthetic)."""
    _check_direction(direction)
    b = _start(seed, rate_hz)
    segments.stand(b, 2.0)
    segments.walk(b, walk_s, cadence_spm, 0.3, 3.0)
    segments.stumble(b, peak_tilt_deg, direction, cadence_spm, 0.3)
    segments.walk(b, walk_s, cadence_spm, 0.3, 3.0)
    segments.stand(b, 2.0)
    return _build(b, f"synthetic_stumble_{direction}_seed{seed}")


def backward_fall(seed: int = 0, walk_s: float = 6.0, lie_s: float = 10.0, impact_peak_g: float = 4.5,
                  cadence_spm: float = 100.0, rate_hz: float = DEFAULT_RATE_HZ) -> Scenario:
    """Backward walk, then a backward fall onto the back, then lying still for ``lie_s`` (synthetic)."""
    return _fall_scenario("backward", seed, walk_s, lie_s, impact_peak_g, cadence_spm, rate_hz)


def forward_fall(seed: int = 0, walk_s: float = 6.0, lie_s: float = 10.0, impact_peak_g: float = 4.5,
                 cadence_spm: float = 100.0, rate_hz: float = DEFAULT_RATE_HZ) -> Scenario:
    """Walk, then a forward fall onto the front, then lying still for ``lie_s`` (synthetic)."""
    return _fall_scenario("forward", seed, walk_s, lie_s, impact_peak_g, cadence_spm, rate_hz)


def slow_backward_fall(seed: int = 0, walk_s: float = 6.0, lie_s: float = 10.0, impact_peak_g: float = 3.0,
                       cadence_spm: float = 90.0, rate_hz: float = DEFAULT_RATE_HZ) -> Scenario:
    """Backward walk, then a slow backward slip (~1.5 s, trunk rate under ~130 °/s, shallow dip) onto the back.

    Slow backward falls can stay under the ~140 °/s trunk-extension thresholds used for forward falls
    (synthetic).
    """
    return _fall_scenario("backward", seed, walk_s, lie_s, impact_peak_g, cadence_spm, rate_hz,
                          length_m=3.0, dip_g=0.4, label="slow_backward")


def _fall_scenario(direction: str, seed: int, walk_s: float, lie_s: float, impact_peak_g: float,
                   cadence_spm: float, rate_hz: float, length_m: float = 0.9, dip_g: float = 0.65,
                   label: str = "") -> Scenario:
    if not 1.5 <= impact_peak_g <= 16.0:
        raise ValueError(f"impact_peak_g = {impact_peak_g} is not allowed; use 1.5 to 16 g")
    b = _start(seed, rate_hz)
    segments.stand(b, 2.0)
    segments.walk(b, walk_s, cadence_spm, 0.3, 3.0)
    segments.fall(b, direction, impact_peak_g, length_m, dip_g)
    segments.lie_still(b, lie_s)
    return _build(b, f"synthetic_{label or direction}_fall_seed{seed}")


def fall_from_standing(direction: str = "backward", seed: int = 0, stand_s: float = 10.0, lie_s: float = 5.0,
                       impact_peak_g: float = 4.5, rate_hz: float = DEFAULT_RATE_HZ) -> Scenario:
    """Standing still for ``stand_s``, then a fall (no walk before it), then lying still (synthetic): the
    daemon's resting reads are on when the fall starts."""
    _check_direction(direction)
    b = _start(seed, rate_hz)
    segments.stand(b, stand_s)
    segments.fall(b, direction, impact_peak_g)
    segments.lie_still(b, lie_s)
    return _build(b, f"synthetic_{direction}_fall_from_standing_seed{seed}")


def lying_down(seed: int = 0, stand_s: float = 3.0, lie_s: float = 150.0, rate_hz: float = DEFAULT_RATE_HZ) -> Scenario:
    """Standing, then lying down on the back over 4 s without an impact, then lying still (synthetic).
    ``stand_s = 0``: lying still from the first sample (a wearer found on the floor by a daemon just started).
    Not a fall; the truth lists the long lie's ``help_needed`` only if the detector would see it."""
    b = _start(seed, rate_hz)
    segments.stand(b, stand_s)
    if stand_s > 0:
        t = b.samples(4.0)
        b.add(b.last_pitch_deg - 90.0 * segments.smoothstep(t / 4.0), b.last_roll_deg, b.last_yaw_deg, np.zeros(3))
    else:
        b.add(np.full(len(b.samples(0.1)), -90.0), 0.0, 0.0, np.zeros(3))
    segments.lie_still(b, lie_s)
    return _build(b, f"synthetic_lying_down_seed{seed}")


def sitting(seed: int = 0, stand_s: float = 3.0, seated_s: float = 8.0,
            rate_hz: float = DEFAULT_RATE_HZ) -> Scenario:
    """Standing, sitting down on a chair, staying seated (synthetic). Not a fall."""
    b = _start(seed, rate_hz)
    segments.stand(b, stand_s)
    segments.sit_down(b)
    segments.lie_still(b, seated_s)
    return _build(b, f"synthetic_sitting_seed{seed}")


def demo_walk(seed: int = 0, help_needed_after_s: float = 30.0, cadence_spm: float = 100.0,
              rate_hz: float = DEFAULT_RATE_HZ, lie_still_s: Optional[float] = None) -> Scenario:
    """About 55 s: stand, walk backwards, a stumble, walk on, a backward fall, lie still (synthetic).

    The wearer lies still for ``lie_still_s`` (default ``help_needed_after_s`` + 5 s), long enough for the
    stillness detector's ``help_needed`` with its default ``help_after_s`` (30 s, passed here as
    ``help_needed_after_s``); the truth lists ``help_needed`` at the impact plus that time.
    """
    if lie_still_s is None:
        lie_still_s = help_needed_after_s + 5.0
    b = _start(seed, rate_hz)
    segments.stand(b, 3.0)
    segments.walk(b, 8.0, cadence_spm, 0.3, 3.0)
    segments.stumble(b, 15.0, "backward", cadence_spm, 0.3)
    segments.walk(b, 6.0, cadence_spm, 0.3, 3.0)
    t_impact = segments.fall(b, "backward", 4.5)
    segments.lie_still(b, lie_still_s)
    if help_needed_after_s < lie_still_s:
        b.mark("help_needed", t_impact + help_needed_after_s)
    return _build(b, f"synthetic_demo_walk_seed{seed}")


def _check_direction(direction: str) -> None:
    if direction not in ("backward", "forward"):
        raise ValueError(f"direction = {direction!r} is not allowed; use 'backward' or 'forward'")
