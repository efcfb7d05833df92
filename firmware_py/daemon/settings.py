"""``[daemon]`` and ``[daemon.emulator]``: how the main loop runs, and the emulated chip for off-Pi runs."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Tuple

from hal.emulated_faults import FaultPlan, Window, parse_windows
from hal.mpu6050_identity import WHO_AM_I_VALUE

DRIVERS = ("mpu6050", "emulated")
SCENARIOS = ("still", "backward_walk", "demo_walk", "backward_fall", "lying")


@dataclass(frozen=True)
class EmulatorSettings:
    """The emulated MPU-6050 used when ``[daemon] driver = "emulated"`` (off-Pi trials, tests, the bench).

    Attributes
    ----------
    scenario : str
        The chip's motion: ``still`` (standing upright), ``backward_walk`` (a seeded synthetic backward walk)
        ``demo_walk`` (the demo's synthetic walk with a stumble and a fall), ``backward_fall`` (stand 2 s, walk
        1 s, fall backwards at about 4.7 s, lie still) or ``lying`` (lying on the back, still, from the start).
        All synthetic; the last two are for fault trials (tests/integration/test_fault_injection.py).
    loop : bool
        Replay the scenario forever (otherwise the chip holds its last value).
    seed : int
        Seed of the synthetic walk.
    vanish_windows_s, freeze_windows_s, nack_windows_s : list of [start_s, end_s]
        Faults, in seconds since the chip was created: the chip stops answering, stops producing samples,
        or NACKs transfers (see ``hal.emulated.FaultPlan``).
    who_am_i : int
        What the chip's WHO_AM_I reads: 0x68 is an MPU-6050; e.g. 0x70 plays an MPU-6500 on the same address.
    """

    scenario: str = "backward_walk"
    loop: bool = True
    seed: int = 0
    vanish_windows_s: Tuple[Window, ...] = ()
    freeze_windows_s: Tuple[Window, ...] = ()
    nack_windows_s: Tuple[Window, ...] = ()
    who_am_i: int = WHO_AM_I_VALUE

    def __post_init__(self) -> None:
        if not 0 <= self.who_am_i <= 0xFF:
            raise ValueError(f"who_am_i = {self.who_am_i} is not allowed; use a register value from 0 to 255")
        if self.scenario not in SCENARIOS:
            raise ValueError(f"scenario = {self.scenario!r} is not allowed; use one of {', '.join(SCENARIOS)}")
        for name in ("vanish_windows_s", "freeze_windows_s", "nack_windows_s"):
            object.__setattr__(self, name, parse_windows(name, getattr(self, name)))

    def fault_plan(self) -> FaultPlan:
        """The chip's faults as the emulator takes them: these keys are the config's spelling of a FaultPlan."""
        return FaultPlan(vanish_windows_s=self.vanish_windows_s, freeze_windows_s=self.freeze_windows_s,
                         nack_windows_s=self.nack_windows_s, seed=self.seed)


@dataclass(frozen=True)
class DaemonSettings:
    """``[daemon]``: how the main loop runs.

    Attributes
    ----------
    driver : str
        ``mpu6050`` (the real chip on ``[sensor] bus``) or ``emulated`` (see ``[daemon.emulator]``).
    poll_interval_s : float
        How often the FIFO is drained while the detection frames are not known yet (start-up, after a sensor
        fault). Afterwards it is read when the sample that completes the next frame has landed (every
        ``[detection] frame_s`` while the wearer moves), so an event waits milliseconds for the read, not a poll.
    resting_poll_s : float
        While the wearer has been still for 2 s (no alarm sounding), read several frames at once about this
        often (0: one read per frame always). Never more than half the FIFO fills (0.21 s at 200 Hz).
    telemetry_interval_s : float
        How often tilt, cadence, sample rate, lost samples and queue depth are published (0: never).
    sensor_retry_initial_s, sensor_retry_max_s : float
        Backoff while the sensor does not answer: the first retry, doubling up to the maximum.
    sensor_stall_s : float
        No samples for this long counts as a sensor fault (the driver is re-initialised); meanwhile the
        watchdog is not pinged, so a chip that never comes back ends in a systemd restart.
    """

    driver: str = "mpu6050"
    poll_interval_s: float = 0.05
    resting_poll_s: float = 0.2
    telemetry_interval_s: float = 10.0
    sensor_retry_initial_s: float = 0.5
    sensor_retry_max_s: float = 30.0
    sensor_stall_s: float = 1.0
    emulator: EmulatorSettings = field(default_factory=EmulatorSettings)

    def __post_init__(self) -> None:
        if self.driver not in DRIVERS:
            raise ValueError(f"driver = {self.driver!r} is not allowed; use one of {', '.join(DRIVERS)}")
        if not 0.005 <= self.poll_interval_s <= 0.2:
            raise ValueError(f"poll_interval_s = {self.poll_interval_s} is not allowed; use 0.005 to 0.2 "
                             f"(the FIFO overflows after 0.425 s at 200 Hz)")
        if self.resting_poll_s != 0 and not self.poll_interval_s <= self.resting_poll_s <= 1.0:
            raise ValueError(f"resting_poll_s = {self.resting_poll_s} is not allowed; use 0 (off) or "
                             f"poll_interval_s ({self.poll_interval_s:g}) to 1.0")
        if self.telemetry_interval_s < 0 or 0 < self.telemetry_interval_s < 1:
            raise ValueError(f"telemetry_interval_s = {self.telemetry_interval_s} is not allowed; use 0 "
                             f"(off) or at least 1")
        if not 0 < self.sensor_retry_initial_s <= self.sensor_retry_max_s:
            raise ValueError(f"sensor_retry_initial_s = {self.sensor_retry_initial_s} is not allowed; use a "
                             f"positive value no larger than sensor_retry_max_s ({self.sensor_retry_max_s})")
        if not 4 * self.poll_interval_s <= self.sensor_stall_s <= 10:
            raise ValueError(f"sensor_stall_s = {self.sensor_stall_s} is not allowed; use 4 x poll_interval_s "
                             f"({4 * self.poll_interval_s:g}) to 10")
        if isinstance(self.emulator, dict):  # a loader handing over the raw subtable
            object.__setattr__(self, "emulator", EmulatorSettings(**self.emulator))
