"""The movements a synthetic trace is made of, and the builder that strings them together.

Each segment (:func:`stand`, :func:`walk`, :func:`stumble`, :func:`fall`, :func:`lie_still`,
:func:`sit_down`) adds the trunk's attitude and the waist's linear acceleration for its duration to a
:class:`ScenarioBuilder`, starting where the last segment ended, and marks the ground truth it makes
(``stumble``, ``loss_of_balance``, ``fall``). ``scenarios.py`` strings segments into the named scenarios and
turns the result into what an IMU on the waist would read.

Conventions (body frame: x anterior, y left, z up): pitch positive forwards, negative backwards; roll
positive to the right; yaw about the vertical; the linear acceleration is in the world frame, in g.

Typical figures used (walking backwards is slower and shorter-stepped than forwards): cadence
80–110 steps/min, vertical bounce 0.2–0.4 g peak at the step frequency, trunk sway of a few degrees.
A backward fall follows an inverted pendulum (the rate grows as the trunk leans), a free-fall dip of
|a| to ~0.3–0.5 g, then an impact of 3–6 g that stops the downward velocity, then lying on the back.
"""
from __future__ import annotations

from typing import List, Tuple

import numpy as np

#: standard gravity (m/s²), for the pendulum of a fall and the velocity an impact must stop
G_MPS2 = 9.80665


class ScenarioBuilder:
    """A synthetic trace's attitude (pitch, roll, yaw in degrees), the waist's linear acceleration (world
    frame, g) and its ground truth, built segment by segment; each segment starts where the last ended.
    ``scenarios.py`` turns it into sensor readings."""

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


def smoothstep(x: np.ndarray) -> np.ndarray:
    """0 → 1 with zero slope at both ends (a raised half cosine)."""
    x = np.clip(x, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)


def stand(b: ScenarioBuilder, duration_s: float) -> None:
    t = b.samples(duration_s)
    if not len(t):
        return
    # quiet standing: sway of a few tenths of a degree at ~0.3 Hz, settling from wherever the last segment ended
    phase = b.rng.uniform(0, 2 * np.pi, 2)
    settle = 1.0 - smoothstep(t / min(1.0, duration_s))
    pitch = b.last_pitch_deg * settle + 0.4 * np.sin(2 * np.pi * 0.3 * t + phase[0]) * (1 - settle)
    roll = b.last_roll_deg * settle + 0.3 * np.sin(2 * np.pi * 0.25 * t + phase[1]) * (1 - settle)
    b.add(pitch, roll, b.last_yaw_deg, np.zeros(3))


def walk(b: ScenarioBuilder, duration_s: float, cadence_spm: float, bounce_g: float, lean_deg: float) -> None:
    t = b.samples(duration_s)
    if not len(t):
        return
    step_hz = cadence_spm / 60.0
    # step-to-step variability: the step frequency wanders by a few per cent
    wander = np.cumsum(b.rng.normal(0.0, 0.002, len(t)))
    wander -= np.linspace(0, wander[-1], len(t))
    phase = 2 * np.pi * np.cumsum(step_hz * (1.0 + np.clip(wander, -0.05, 0.05))) / b.rate_hz
    # ramp the gait in and out over the first and last half second so segments join smoothly
    ramp = smoothstep(t / 0.3) * smoothstep((t[-1] - t) / 0.3)
    p0, r0, y0 = b.last_pitch_deg, b.last_roll_deg, b.last_yaw_deg
    lean = p0 + (lean_deg - p0) * smoothstep(t / 0.5)
    pitch = lean * (1 - smoothstep((t - (duration_s - 0.5)) / 0.5)) + 1.5 * np.sin(phase + 0.6) * ramp
    roll = r0 * (1 - smoothstep(t / 0.5)) + 2.0 * np.sin(phase / 2) * ramp
    yaw = y0 + 3.0 * np.sin(phase / 2 + 0.3) * ramp
    # each foot contact (toe first when walking backwards) is a short jolt: ~25 ms wide, a few tenths of a g
    # up and a small pitch blip, which is what makes a waist trace spiky (|a| peaks of 1.5-1.8 g, as in
    # SisFall's walking trials) rather than a smooth sine
    since_contact_s = (np.mod(phase + np.pi, 2 * np.pi) - np.pi) / (2 * np.pi * step_hz)
    contact = ramp * np.exp(-0.5 * (since_contact_s / 0.012) ** 2)
    pitch = pitch + 0.25 * np.gradient(contact, 1.0 / b.rate_hz) * 0.012
    lin = np.zeros((len(t), 3))
    lin[:, 2] = ramp * (bounce_g * np.cos(phase) + 0.25 * bounce_g * np.cos(2 * phase + 0.4)) + 0.35 * contact
    # walking backwards: braking/propulsion along -x at the step frequency, sideways at the stride frequency
    lin[:, 0] = ramp * (0.12 * np.sin(phase + 1.0) + 0.04 * np.sin(2 * phase)) + 0.15 * contact
    lin[:, 1] = ramp * 0.06 * np.sin(phase / 2 + 0.5)
    b.add(pitch, roll, yaw, lin)


def stumble(b: ScenarioBuilder, peak_tilt_deg: float, direction: str, cadence_spm: float,
            bounce_g: float) -> None:
    """Heel catches while walking: a jolt, the trunk swings ``peak_tilt_deg`` and is brought back upright."""
    sign = -1.0 if direction == "backward" else 1.0
    # SisFall's D18 stumbles (forward walking) swing the trunk a median ~16° (10-90 %: 8-45°) for about half
    # a second, with trunk rates of 180-475 °/s and |a| peaks of 3-5 g; a 15° swing over 0.15 s peaks ~160 °/s
    rise_s, back_s = 0.15, 0.5
    t = b.samples(rise_s + back_s + 0.4)
    p0 = b.last_pitch_deg
    swing = np.where(t < rise_s, smoothstep(t / rise_s), 1.0 - smoothstep((t - rise_s) / back_s))
    pitch = p0 + sign * peak_tilt_deg * swing
    roll = b.last_roll_deg + 2.0 * np.sin(np.pi * np.clip(t / (rise_s + back_s), 0, 1))
    lin = np.zeros((len(t), 3))
    # the jolt: the caught foot stops the waist (a pulse against the direction of travel, which is -x when
    # walking backwards), the body drops a little, then the recovery step lands hard
    jolt = np.exp(-0.5 * ((t - 0.05) / 0.025) ** 2)
    lin[:, 0] = -sign * 1.8 * jolt
    lin[:, 2] = (1.3 * np.exp(-0.5 * ((t - 0.42) / 0.03) ** 2)
                 - 0.3 * np.exp(-0.5 * ((t - 0.2) / 0.06) ** 2))
    b.mark("stumble", b.t_now_s)
    b.add(pitch, roll, b.last_yaw_deg, lin)


def fall(b: ScenarioBuilder, direction: str, impact_peak_g: float, length_m: float = 0.9,
         dip_g: float = 0.65) -> float:
    """Loss of balance, fall, impact and settling on the back (or front). Returns the impact time (s).

    ``length_m`` is the trunk pendulum's effective length: 0.9 m gives a fall of ~0.8 s whose trunk rate
    passes 200 °/s; ~3 m a slow slip (~1.5 s) that stays under ~130 °/s, below classic rate thresholds.
    """
    sign = -1.0 if direction == "backward" else 1.0
    dt = 1.0 / b.rate_hz
    # inverted pendulum of the trunk: theta'' = (g / L) sin(theta), from a small lean and rate
    theta = np.radians(3.0)
    rate = np.radians(25.0)
    angles = [theta]
    while theta < np.radians(70.0):
        rate += G_MPS2 / length_m * np.sin(theta) * dt
        theta += rate * dt
        angles.append(theta)
    fall_deg = sign * (np.degrees(np.array(angles)) - 3.0)
    n_fall = len(fall_deg)
    t_onset = b.t_now_s
    t_impact = t_onset + n_fall * dt
    # the waist drops as the knees give: a free-fall dip deepening to dip_g below gravity
    tf = np.arange(n_fall) * dt
    drop_g = -dip_g * smoothstep(tf / (0.6 * tf[-1]))
    descent_mps = float(np.sum(-drop_g) * G_MPS2 * dt)
    p0 = b.last_pitch_deg
    pitch = p0 * (1 - smoothstep(tf / 0.15)) + fall_deg
    lin = np.zeros((n_fall, 3))
    lin[:, 2] = drop_g
    lin[:, 0] = sign * 0.15 * smoothstep(tf / tf[-1])
    b.mark("loss_of_balance", t_onset)
    b.add(pitch, b.last_roll_deg * (1 - smoothstep(tf / 0.3)), b.last_yaw_deg, lin)
    # impact: a half-sine pulse whose area stops the downward velocity; peak set by impact_peak_g
    peak_g = max(impact_peak_g - 1.0, 1.0)
    width_s = np.pi * descent_mps / (2.0 * peak_g * G_MPS2)
    ti = b.samples(max(width_s, 3 * dt) + 0.5)
    pulse = np.where(ti < width_s, peak_g * np.sin(np.pi * np.clip(ti / width_s, 0, 1)), 0.0)
    # the trunk keeps turning through the impact and is stopped at lying (90°) by a steady deceleration,
    # so the angular rate is continuous: p(t) = p_i + w t - w t^2 / (2 T) reaches 90° at T = 2 (90° - p_i) / w
    rate_dps = sign * np.degrees(rate)
    left_deg = sign * 90.0 - b.last_pitch_deg
    stop_s = max(2.0 * left_deg / rate_dps, 2 * dt)
    tc = np.minimum(ti + dt, stop_s)
    pitch_i = b.last_pitch_deg + rate_dps * tc - rate_dps * tc ** 2 / (2.0 * stop_s)
    lin_i = np.zeros((len(ti), 3))
    lin_i[:, 2] = pulse
    lin_i[:, 0] = -sign * 0.6 * pulse / peak_g * (ti < width_s)
    b.mark("fall", t_impact)
    b.add(pitch_i, 0.0, b.last_yaw_deg, lin_i)
    return t_impact


def lie_still(b: ScenarioBuilder, duration_s: float) -> None:
    t = b.samples(duration_s)
    if not len(t):
        return
    # breathing moves the trunk by a few hundredths of a degree: effectively still
    b.add(b.last_pitch_deg + 0.05 * np.sin(2 * np.pi * 0.25 * t), b.last_roll_deg, b.last_yaw_deg, np.zeros(3))


def sit_down(b: ScenarioBuilder) -> None:
    """Stand to sit: lean forward ~25°, lower, land softly in the chair, lean back a little."""
    t = b.samples(2.5)
    p0 = b.last_pitch_deg
    lean = 25.0 * np.sin(np.pi * np.clip(t / 1.6, 0, 1)) - 5.0 * smoothstep((t - 1.2) / 0.8)
    pitch = p0 * (1 - smoothstep(t / 0.3)) + lean
    lin = np.zeros((len(t), 3))
    # lowering (downward acceleration) then landing, with equal areas so the waist ends at rest
    lin[:, 2] = -0.2 * np.sin(np.pi * np.clip((t - 0.3) / 0.8, 0, 1)) \
        + 0.81 * np.exp(-0.5 * ((t - 1.2) / 0.05) ** 2)
    b.add(pitch, b.last_roll_deg, b.last_yaw_deg, lin)
