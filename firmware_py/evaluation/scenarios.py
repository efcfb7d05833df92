"""Seeded synthetic traces of backward walking, stumbles and falls — for tests and the demo, never evidence.

Every trace is **synthetic** (``Scenario.synthetic`` is True and "synthetic" is in its name): it shows the
detectors a plausible signal with a known truth, nothing more. Real performance is measured on real
recordings (``retrowalk evaluate``).

How a trace is made (physically consistent, in the body frame: x anterior, y left, z up):

- the trunk's attitude is pitch (forward lean positive, backward negative), roll (lean to the right
  positive) and yaw, as ``R = Rz(yaw) Ry(pitch) Rx(roll)``;
- the waist's linear acceleration is given in the world frame (g);
- the accelerometer reads the specific force ``R.T @ (a_world + [0, 0, 1])`` in g, so standing still reads
  ``(0, 0, 1)`` and lying on the back ``(1, 0, 0)``;
- the gyroscope reads the body angular rate from the Euler-angle rates (ZYX kinematics), so integrating it
  gives back the attitude;
- white noise (accelerometer ~0.01 g, gyroscope ~0.3 °/s rms) and a small constant gyro bias are added.

Typical figures used (walking backwards is slower and shorter-stepped than forwards): cadence
80–110 steps/min, vertical bounce 0.2–0.4 g peak at the step frequency, trunk sway of a few degrees.
A backward fall follows an inverted pendulum (the rate grows as the trunk leans), a free-fall dip of
|a| to ~0.3–0.5 g, then an impact of 3–6 g that stops the downward velocity, then lying on the back.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, List, Optional, Tuple

import numpy as np

from hal.types import SampleBlock

from .recording import Recording, sample_blocks

__all__ = [
    "Scenario", "standing", "backward_walk", "stumble", "backward_fall", "slow_backward_fall", "forward_fall",
    "sitting",
    "demo_walk", "DEFAULT_RATE_HZ",
]

DEFAULT_RATE_HZ = 200.0
_ACCEL_NOISE_G = 0.01
_GYRO_NOISE_DPS = 0.3
_GYRO_BIAS_DPS = 0.5
_G_MPS2 = 9.80665


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


class _Motion:
    """Attitude and linear acceleration built segment by segment; each segment starts where the last ended."""

    def __init__(self, rate_hz: float, rng: np.random.Generator) -> None:
        self.rate_hz = rate_hz
        self.rng = rng
        self.pitch: List[np.ndarray] = []
        self.roll: List[np.ndarray] = []
        self.yaw: List[np.ndarray] = []
        self.lin: List[np.ndarray] = []
        self.truth: List[Tuple[str, float]] = []
        self.n = 0

    @property
    def t_now_s(self) -> float:
        return self.n / self.rate_hz

    @property
    def last_pitch_deg(self) -> float:
        return float(self.pitch[-1][-1]) if self.pitch else 0.0

    @property
    def last_roll_deg(self) -> float:
        return float(self.roll[-1][-1]) if self.roll else 0.0

    @property
    def last_yaw_deg(self) -> float:
        return float(self.yaw[-1][-1]) if self.yaw else 0.0

    def samples(self, duration_s: float) -> np.ndarray:
        """Local times of the next segment's samples, from 0."""
        return np.arange(int(round(duration_s * self.rate_hz))) / self.rate_hz

    def add(self, pitch_deg, roll_deg, yaw_deg, lin_world_g) -> None:
        n = len(pitch_deg)
        self.pitch.append(np.asarray(pitch_deg, float))
        self.roll.append(np.broadcast_to(np.asarray(roll_deg, float), (n,)).copy())
        self.yaw.append(np.broadcast_to(np.asarray(yaw_deg, float), (n,)).copy())
        self.lin.append(np.broadcast_to(np.asarray(lin_world_g, float), (n, 3)).copy())
        self.n += n

    def mark(self, event_type: str, t_s: float) -> None:
        self.truth.append((event_type, round(float(t_s), 4)))

    def build(self, name: str) -> Scenario:
        pitch = np.radians(np.concatenate(self.pitch))
        roll = np.radians(np.concatenate(self.roll))
        yaw = np.radians(np.concatenate(self.yaw))
        lin = np.concatenate(self.lin)
        n = len(pitch)
        t_s = np.arange(n) / self.rate_hz
        dt = 1.0 / self.rate_hz
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
        accel = accel + self.rng.normal(0.0, _ACCEL_NOISE_G, (n, 3))
        bias = self.rng.uniform(-_GYRO_BIAS_DPS, _GYRO_BIAS_DPS, 3)
        gyro = gyro + bias + self.rng.normal(0.0, _GYRO_NOISE_DPS, (n, 3))
        tilt = np.degrees(np.arccos(np.clip(cp * cr, -1.0, 1.0)))
        if "synthetic" not in name:
            name = f"synthetic_{name}"
        return Scenario(t_s, accel, gyro, sorted(self.truth, key=lambda e: e[1]), name, True, tilt)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    """0 → 1 with zero slope at both ends (a raised half cosine)."""
    x = np.clip(x, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)


def _stand(m: _Motion, duration_s: float) -> None:
    t = m.samples(duration_s)
    if not len(t):
        return
    # quiet standing: sway of a few tenths of a degree at ~0.3 Hz, settling from wherever the last segment ended
    phase = m.rng.uniform(0, 2 * np.pi, 2)
    settle = 1.0 - _smoothstep(t / min(1.0, duration_s))
    pitch = m.last_pitch_deg * settle + 0.4 * np.sin(2 * np.pi * 0.3 * t + phase[0]) * (1 - settle)
    roll = m.last_roll_deg * settle + 0.3 * np.sin(2 * np.pi * 0.25 * t + phase[1]) * (1 - settle)
    m.add(pitch, roll, m.last_yaw_deg, np.zeros(3))


def _walk(m: _Motion, duration_s: float, cadence_spm: float, bounce_g: float, lean_deg: float) -> None:
    t = m.samples(duration_s)
    if not len(t):
        return
    step_hz = cadence_spm / 60.0
    # step-to-step variability: the step frequency wanders by a few per cent
    wander = np.cumsum(m.rng.normal(0.0, 0.002, len(t)))
    wander -= np.linspace(0, wander[-1], len(t))
    phase = 2 * np.pi * np.cumsum(step_hz * (1.0 + np.clip(wander, -0.05, 0.05))) / m.rate_hz
    # ramp the gait in and out over the first and last half second so segments join smoothly
    ramp = _smoothstep(t / 0.3) * _smoothstep((t[-1] - t) / 0.3)
    p0, r0, y0 = m.last_pitch_deg, m.last_roll_deg, m.last_yaw_deg
    lean = p0 + (lean_deg - p0) * _smoothstep(t / 0.5)
    pitch = lean * (1 - _smoothstep((t - (duration_s - 0.5)) / 0.5)) + 1.5 * np.sin(phase + 0.6) * ramp
    roll = r0 * (1 - _smoothstep(t / 0.5)) + 2.0 * np.sin(phase / 2) * ramp
    yaw = y0 + 3.0 * np.sin(phase / 2 + 0.3) * ramp
    # each foot contact (toe first when walking backwards) is a short jolt: ~25 ms wide, a few tenths of a g
    # up and a small pitch blip, which is what makes a waist trace spiky (|a| peaks of 1.5-1.8 g, as in
    # SisFall's walking trials) rather than a smooth sine
    since_contact_s = (np.mod(phase + np.pi, 2 * np.pi) - np.pi) / (2 * np.pi * step_hz)
    contact = ramp * np.exp(-0.5 * (since_contact_s / 0.012) ** 2)
    pitch = pitch + 0.25 * np.gradient(contact, 1.0 / m.rate_hz) * 0.012
    lin = np.zeros((len(t), 3))
    lin[:, 2] = ramp * (bounce_g * np.cos(phase) + 0.25 * bounce_g * np.cos(2 * phase + 0.4)) + 0.35 * contact
    # walking backwards: braking/propulsion along -x at the step frequency, sideways at the stride frequency
    lin[:, 0] = ramp * (0.12 * np.sin(phase + 1.0) + 0.04 * np.sin(2 * phase)) + 0.15 * contact
    lin[:, 1] = ramp * 0.06 * np.sin(phase / 2 + 0.5)
    m.add(pitch, roll, yaw, lin)


def _stumble(m: _Motion, peak_tilt_deg: float, direction: str, cadence_spm: float, bounce_g: float) -> None:
    """Heel catches while walking: a jolt, the trunk swings ``peak_tilt_deg`` and is brought back upright."""
    sign = -1.0 if direction == "backward" else 1.0
    # SisFall's D18 stumbles (forward walking) swing the trunk a median ~16° (10-90 %: 8-45°) for about half
    # a second, with trunk rates of 180-475 °/s and |a| peaks of 3-5 g; a 15° swing over 0.15 s peaks ~160 °/s
    rise_s, back_s = 0.15, 0.5
    t = m.samples(rise_s + back_s + 0.4)
    p0 = m.last_pitch_deg
    swing = np.where(t < rise_s, _smoothstep(t / rise_s), 1.0 - _smoothstep((t - rise_s) / back_s))
    pitch = p0 + sign * peak_tilt_deg * swing
    roll = m.last_roll_deg + 2.0 * np.sin(np.pi * np.clip(t / (rise_s + back_s), 0, 1))
    lin = np.zeros((len(t), 3))
    # the jolt: the caught foot stops the waist (a pulse against the direction of travel, which is -x when
    # walking backwards), the body drops a little, then the recovery step lands hard
    jolt = np.exp(-0.5 * ((t - 0.05) / 0.025) ** 2)
    lin[:, 0] = -sign * 1.8 * jolt
    lin[:, 2] = (1.3 * np.exp(-0.5 * ((t - 0.42) / 0.03) ** 2)
                 - 0.3 * np.exp(-0.5 * ((t - 0.2) / 0.06) ** 2))
    m.mark("stumble", m.t_now_s)
    m.add(pitch, roll, m.last_yaw_deg, lin)


def _fall(m: _Motion, direction: str, impact_peak_g: float, length_m: float = 0.9, dip_g: float = 0.65) -> float:
    """Loss of balance, fall, impact and settling on the back (or front). Returns the impact time (s).

    ``length_m`` is the trunk pendulum's effective length: 0.9 m gives a fall of ~0.8 s whose trunk rate
    passes 200 °/s; ~3 m a slow slip (~1.5 s) that stays under ~130 °/s, below classic rate thresholds.
    """
    sign = -1.0 if direction == "backward" else 1.0
    dt = 1.0 / m.rate_hz
    # inverted pendulum of the trunk: theta'' = (g / L) sin(theta), from a small lean and rate
    theta = np.radians(3.0)
    rate = np.radians(25.0)
    angles = [theta]
    while theta < np.radians(70.0):
        rate += _G_MPS2 / length_m * np.sin(theta) * dt
        theta += rate * dt
        angles.append(theta)
    fall_deg = sign * (np.degrees(np.array(angles)) - 3.0)
    n_fall = len(fall_deg)
    t_onset = m.t_now_s
    t_impact = t_onset + n_fall * dt
    # the waist drops as the knees give: a free-fall dip deepening to dip_g below gravity
    tf = np.arange(n_fall) * dt
    drop_g = -dip_g * _smoothstep(tf / (0.6 * tf[-1]))
    descent_mps = float(np.sum(-drop_g) * _G_MPS2 * dt)
    p0 = m.last_pitch_deg
    pitch = p0 * (1 - _smoothstep(tf / 0.15)) + fall_deg
    lin = np.zeros((n_fall, 3))
    lin[:, 2] = drop_g
    lin[:, 0] = sign * 0.15 * _smoothstep(tf / tf[-1])
    m.mark("loss_of_balance", t_onset)
    m.add(pitch, m.last_roll_deg * (1 - _smoothstep(tf / 0.3)), m.last_yaw_deg, lin)
    # impact: a half-sine pulse whose area stops the downward velocity; peak set by impact_peak_g
    peak_g = max(impact_peak_g - 1.0, 1.0)
    width_s = np.pi * descent_mps / (2.0 * peak_g * _G_MPS2)
    ti = m.samples(max(width_s, 3 * dt) + 0.5)
    pulse = np.where(ti < width_s, peak_g * np.sin(np.pi * np.clip(ti / width_s, 0, 1)), 0.0)
    # the trunk keeps turning through the impact and is stopped at lying (90°) by a steady deceleration,
    # so the angular rate is continuous: p(t) = p_i + w t - w t^2 / (2 T) reaches 90° at T = 2 (90° - p_i) / w
    rate_dps = sign * np.degrees(rate)
    left_deg = sign * 90.0 - m.last_pitch_deg
    stop_s = max(2.0 * left_deg / rate_dps, 2 * dt)
    tc = np.minimum(ti + dt, stop_s)
    pitch_i = m.last_pitch_deg + rate_dps * tc - rate_dps * tc ** 2 / (2.0 * stop_s)
    lin_i = np.zeros((len(ti), 3))
    lin_i[:, 2] = pulse
    lin_i[:, 0] = -sign * 0.6 * pulse / peak_g * (ti < width_s)
    m.mark("fall", t_impact)
    m.add(pitch_i, 0.0, m.last_yaw_deg, lin_i)
    return t_impact


def _lie_still(m: _Motion, duration_s: float) -> None:
    t = m.samples(duration_s)
    if not len(t):
        return
    # breathing moves the trunk by a few hundredths of a degree: effectively still
    m.add(m.last_pitch_deg + 0.05 * np.sin(2 * np.pi * 0.25 * t), m.last_roll_deg, m.last_yaw_deg, np.zeros(3))


def _sit_down(m: _Motion) -> None:
    """Stand to sit: lean forward ~25°, lower, land softly in the chair, lean back a little."""
    t = m.samples(2.5)
    p0 = m.last_pitch_deg
    lean = 25.0 * np.sin(np.pi * np.clip(t / 1.6, 0, 1)) - 5.0 * _smoothstep((t - 1.2) / 0.8)
    pitch = p0 * (1 - _smoothstep(t / 0.3)) + lean
    lin = np.zeros((len(t), 3))
    # lowering (downward acceleration) then landing, with equal areas so the waist ends at rest
    lin[:, 2] = -0.2 * np.sin(np.pi * np.clip((t - 0.3) / 0.8, 0, 1)) \
        + 0.81 * np.exp(-0.5 * ((t - 1.2) / 0.05) ** 2)
    m.add(pitch, m.last_roll_deg, m.last_yaw_deg, lin)


def _start(seed: int, rate_hz: float) -> _Motion:
    if rate_hz <= 0:
        raise ValueError(f"rate_hz = {rate_hz} is not allowed; use a positive sample rate")
    return _Motion(rate_hz, np.random.default_rng(seed))


def standing(duration_s: float = 10.0, seed: int = 0, rate_hz: float = DEFAULT_RATE_HZ) -> Scenario:
    """Quiet standing (synthetic)."""
    m = _start(seed, rate_hz)
    _stand(m, duration_s)
    return m.build(f"synthetic_standing_seed{seed}")


def backward_walk(duration_s: float = 60.0, seed: int = 0, cadence_spm: float = 100.0,
                  bounce_g: float = 0.3, lean_deg: float = 3.0, rate_hz: float = DEFAULT_RATE_HZ) -> Scenario:
    """Backward walking at ``cadence_spm`` steps per minute, after 2 s of standing (synthetic)."""
    m = _start(seed, rate_hz)
    _stand(m, 2.0)
    _walk(m, max(duration_s - 2.0, 0.0), cadence_spm, bounce_g, lean_deg)
    return m.build(f"synthetic_backward_walk_{cadence_spm:g}spm_seed{seed}")


def stumble(seed: int = 0, peak_tilt_deg: float = 15.0, direction: str = "backward",
            cadence_spm: float = 100.0, walk_s: float = 8.0, rate_hz: float = DEFAULT_RATE_HZ) -> Scenario:
    """Backward walk, a stumble (trunk swings ``peak_tilt_deg`` and recovers), walk on (synthetic)."""
    _check_direction(direction)
    m = _start(seed, rate_hz)
    _stand(m, 2.0)
    _walk(m, walk_s, cadence_spm, 0.3, 3.0)
    _stumble(m, peak_tilt_deg, direction, cadence_spm, 0.3)
    _walk(m, walk_s, cadence_spm, 0.3, 3.0)
    _stand(m, 2.0)
    return m.build(f"synthetic_stumble_{direction}_seed{seed}")


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
    m = _start(seed, rate_hz)
    _stand(m, 2.0)
    _walk(m, walk_s, cadence_spm, 0.3, 3.0)
    _fall(m, direction, impact_peak_g, length_m, dip_g)
    _lie_still(m, lie_s)
    return m.build(f"synthetic_{label or direction}_fall_seed{seed}")


def lying_down(seed: int = 0, stand_s: float = 3.0, lie_s: float = 150.0, rate_hz: float = DEFAULT_RATE_HZ) -> Scenario:
    """Standing, then lying down on the back over 4 s without an impact, then lying still (synthetic).
    ``stand_s = 0``: lying still from the first sample (a wearer found on the floor by a daemon just started).
    Not a fall; the truth lists the long lie's ``help_needed`` only if the detector would see it."""
    m = _start(seed, rate_hz)
    _stand(m, stand_s)
    if stand_s > 0:
        t = m.samples(4.0)
        m.add(m.last_pitch_deg - 90.0 * _smoothstep(t / 4.0), m.last_roll_deg, m.last_yaw_deg, np.zeros(3))
    else:
        m.add(np.full(len(m.samples(0.1)), -90.0), 0.0, 0.0, np.zeros(3))
    _lie_still(m, lie_s)
    return m.build(f"synthetic_lying_down_seed{seed}")


def sitting(seed: int = 0, stand_s: float = 3.0, seated_s: float = 8.0,
            rate_hz: float = DEFAULT_RATE_HZ) -> Scenario:
    """Standing, sitting down on a chair, staying seated (synthetic). Not a fall."""
    m = _start(seed, rate_hz)
    _stand(m, stand_s)
    _sit_down(m)
    _lie_still(m, seated_s)
    return m.build(f"synthetic_sitting_seed{seed}")


def demo_walk(seed: int = 0, help_needed_after_s: float = 30.0, cadence_spm: float = 100.0,
              rate_hz: float = DEFAULT_RATE_HZ, lie_still_s: Optional[float] = None) -> Scenario:
    """About 55 s: stand, walk backwards, a stumble, walk on, a backward fall, lie still (synthetic).

    The wearer lies still for ``lie_still_s`` (default ``help_needed_after_s`` + 5 s), long enough for the
    stillness detector's ``help_needed`` with its default ``help_after_s`` (30 s, passed here as
    ``help_needed_after_s``); the truth lists ``help_needed`` at the impact plus that time.
    """
    if lie_still_s is None:
        lie_still_s = help_needed_after_s + 5.0
    m = _start(seed, rate_hz)
    _stand(m, 3.0)
    _walk(m, 8.0, cadence_spm, 0.3, 3.0)
    _stumble(m, 15.0, "backward", cadence_spm, 0.3)
    _walk(m, 6.0, cadence_spm, 0.3, 3.0)
    t_impact = _fall(m, "backward", 4.5)
    _lie_still(m, lie_still_s)
    if help_needed_after_s < lie_still_s:
        m.mark("help_needed", t_impact + help_needed_after_s)
    return m.build(f"synthetic_demo_walk_seed{seed}")


def _check_direction(direction: str) -> None:
    if direction not in ("backward", "forward"):
        raise ValueError(f"direction = {direction!r} is not allowed; use 'backward' or 'forward'")
