"""Wiring: the one place that decides which hardware is real, and builds the daemon from a config.

``build_sensor_opener`` opens the MPU-6050 through smbus2 or builds the emulated chip; ``build_gpio_for`` picks
the Pi's pin factory or gpiozero's MockFactory (through ``hal.gpio``); ``build_daemon`` assembles the rest.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Protocol, Tuple

from hal.clock import Clock, FakeClock, MonotonicClock

from ..config import Config
from ..errors import ConfigError
from ..events import Event
from .calibration_file import load_calibration
from .loop import Daemon
from .preflight import check_can_run
from .sensor_link import SensorLink
from .settings import EmulatorSettings

if TYPE_CHECKING:  # imported where used: a run without a broker or an emulated chip never loads those modules
    from hal.bus import I2CBus
    from hal.emulated import EmulatedI2CBus
    from hal.emulated_motion import ArrayMotion, MotionSource
    from hal.gpio import Gpio
    from hal.mpu6050 import Mpu6050
    from ..detection.calibration import Calibration
    from ..detection.detectors.trees import TreeEnsemble
    from ..detection.pipeline import Pipeline
    from ..transport.mqtt import Publisher
    from ..transport.outbox import Outbox
    from .power import PowerMonitor

log = logging.getLogger(__name__)


class Closeable(Protocol):
    """What the daemon closes last at shutdown (the GPIO built here, the emulated chip's meter)."""

    def close(self) -> None: ...


def state_dir_of(config: Config) -> Path:
    return Path(config.paths.state_dir).expanduser()


def is_raspberry_pi(model_path: str = "/proc/device-tree/model") -> bool:
    try:
        with open(model_path, "rb") as f:
            return b"Raspberry Pi" in f.read()
    except OSError:
        return False


def build_motion(settings: EmulatorSettings) -> ArrayMotion:
    """The emulated chip's motion: a synthetic scenario (body frame = chip frame, i.e. no mounting tilt)."""
    import numpy as np
    from hal.emulated import ArrayMotion
    from ..evaluation import scenarios

    if settings.scenario == "still":
        t_s = np.array([0.0, 1.0])
        accel_g = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
        return ArrayMotion(t_s, accel_g, np.zeros((2, 3)), loop=False)
    if settings.scenario == "demo_walk":
        scenario = scenarios.demo_walk(seed=settings.seed)
    elif settings.scenario in ("backward_fall", "lying"):  # fault trials: the wearer ends lying, then holds
        scenario = (scenarios.backward_fall(seed=settings.seed, walk_s=1.0, lie_s=5.0)
                    if settings.scenario == "backward_fall"
                    else scenarios.lying_down(seed=settings.seed, stand_s=0.0, lie_s=5.0))
        return ArrayMotion(scenario.t_s, scenario.accel_g, scenario.gyro_dps, loop=False)
    else:
        scenario = scenarios.backward_walk(60.0, seed=settings.seed)
    return ArrayMotion(scenario.t_s, scenario.accel_g, scenario.gyro_dps, loop=settings.loop)


class EmulatorMeter:
    """Closed with the daemon: logs the CPU time the emulated chip took, which ``bench/daemon.py`` subtracts
    from the daemon's (a real chip costs the Pi none)."""

    def __init__(self, bus: EmulatedI2CBus) -> None:
        self.bus = bus

    def close(self) -> None:
        log.info("emulated chip: %.3f s of CPU in %d I2C transactions", self.bus.cpu_s, self.bus.transactions)


def build_sensor_opener(config: Config, clock: Clock, motion: Optional[MotionSource] = None,
                        resources: Optional[List[Closeable]] = None) -> Callable[[], Mpu6050]:
    """A function that opens (or re-opens, after a fault) the configured MPU-6050.

    ``[daemon] driver = "mpu6050"`` opens ``/dev/i2c-<bus>`` through smbus2; ``"emulated"`` builds one
    emulated chip (with ``motion``, or the configured scenario, and the configured fault plan) that every
    re-open talks to again, as a real re-open talks to the same chip. Its ``EmulatorMeter`` joins
    ``resources`` when given.
    """
    from hal.mpu6050 import Mpu6050

    if config.daemon.driver == "mpu6050":
        return lambda: Mpu6050.open(config.sensor, clock)
    bus = build_emulated_bus(config, clock, motion)
    if resources is not None:
        resources.append(EmulatorMeter(bus))
    return lambda: Mpu6050(bus, config.sensor, clock)


def build_emulated_bus(config: Config, clock: Clock, motion: Optional[MotionSource] = None) -> EmulatedI2CBus:
    """An I2C bus holding the emulated MPU-6050 of ``[daemon.emulator]`` at ``[sensor] address``, playing
    ``motion`` (or the configured scenario) with the configured faults."""
    from hal.emulated import EmulatedI2CBus, EmulatedMpu6050, SensorNoise

    emu = config.daemon.emulator
    # with the datasheet's noise, as a real chip: a noiseless one would flatter the detectors
    chip = EmulatedMpu6050(clock, motion=motion if motion is not None else build_motion(emu), faults=emu.fault_plan(),
                           noise=SensorNoise(seed=emu.seed), who_am_i=emu.who_am_i)
    return EmulatedI2CBus({config.sensor.address: chip})


def open_sensor_bus(config: Config, clock: Clock, *, emulated: bool) -> I2CBus:
    """The bus the MPU-6050 is on, for a command that talks to the chip before the driver does
    (``selftest``): ``/dev/i2c-<[sensor] bus>`` through smbus2, or with ``emulated`` the emulated chip the
    commands' ``--emulated`` use (still and upright, see ``with_emulated_sensor``). The caller closes it."""
    if emulated:
        return build_emulated_bus(with_emulated_sensor(config), clock)
    from hal.bus import open_i2c_bus

    return open_i2c_bus(config.sensor.bus)


def build_sensor(config: Config, clock: Clock, motion: Optional[MotionSource] = None) -> Mpu6050:
    """The configured MPU-6050, opened and configured (``Mpu6050``)."""
    return build_sensor_opener(config, clock, motion)()


def build_power_monitor(config: Config, clock: Clock) -> PowerMonitor:
    """The battery gauge (``[power] gauge``; on ``[daemon] driver = "emulated"`` its emulated twin on the
    synthetic battery of ``[power.emulator]``) and the Pi's power flags, in a ``PowerMonitor``."""
    import subprocess
    from hal.throttle import open_throttle_source
    from .power import PowerMonitor

    settings = config.power
    open_gauge = None
    if settings.gauge != "none":
        from hal.ina219 import Ina219
        from hal.max17048 import Max17048
        address = settings.gauge_address
        if settings.gauge == "ina219":
            driver, options = Ina219, dict(shunt_ohms=settings.shunt_ohms, charging_sign=settings.charging_sign)
        else:
            driver, options = Max17048, {}
        if config.daemon.driver == "emulated":
            from hal.emulated import EmulatedI2CBus
            from hal.emulated_gauges import EmulatedBattery, EmulatedIna219, EmulatedMax17048
            emu = settings.emulator
            battery = EmulatedBattery(start_percent=emu.start_percent,
                                      drain_percent_per_s=emu.drain_percent_per_min / 60.0,
                                      charging_windows_s=((0.0, 1e12),) if emu.charging else ())
            chip = (EmulatedIna219(clock, battery, settings.shunt_ohms) if driver is Ina219
                    else EmulatedMax17048(clock, battery))
            bus = EmulatedI2CBus({address: chip})
            open_gauge = lambda: driver(bus, address, clock=clock, bus_number=settings.bus,  # noqa: E731
                                        **options)
        else:
            open_gauge = lambda: driver.open(settings.bus, address, clock=clock, **options)  # noqa: E731
    return PowerMonitor(open_gauge, open_throttle_source(settings.throttled_source), clock, settings,
                        power_off=lambda: subprocess.run(["systemctl", "poweroff"], check=False))


def build_gpio_for(config: Config, clock: Clock, pin_factory: Any = None, *,
                   mock_pins: Optional[bool] = None) -> Gpio:
    """Buzzer, LED and button on the pins of ``[alerts]``.

    ``pin_factory`` is gpiozero's (only ``hal.gpio`` may name its type; tests pass a ``MockFactory``). Without
    one, ``mock_pins`` decides: true gives gpiozero's mock pins (the demo draws the buzzer from them,
    ``selftest --emulated`` beeps on them), false the Pi's own pin factory, and ``None`` (``retrowalk run``)
    the Pi's on a Raspberry Pi and mock pins elsewhere, so the daemon with the emulated chip runs on a laptop.
    """
    from hal import gpio

    if pin_factory is None:
        if mock_pins is None:
            mock_pins = not is_raspberry_pi()
        if mock_pins:
            pin_factory = gpio.mock_pin_factory()
    return gpio.build_gpio(config.alerts.gpio, pin_factory=pin_factory, clock=clock)


def build_pipeline(config: Config, calibration: Optional[Calibration] = None,
                   model: Optional[TreeEnsemble] = None) -> Pipeline:
    """The detection pipeline; ``model`` is the pre-impact model, read from the config's
    ``model_file`` when not given (a file that is no model is a ``ConfigError``)."""
    from ..detection.detectors.balance import load_model_for
    from ..detection.pipeline import Pipeline

    if model is None:
        model = load_model_for(config.detection.balance)
    return Pipeline(config.detection, calibration=calibration, model=model,
                    gyro_range_dps=config.sensor.gyro_range_dps)


def build_publisher(config: Config, outbox: Outbox, clock: Clock, state_dir: Optional[Path] = None) -> Publisher:
    from ..transport.mqtt import Publisher

    return Publisher(config.mqtt, outbox, clock, state_dir=state_dir,
                     max_mute_minutes=config.alerts.mute_max_minutes)


def build_daemon(config: Config, clock: Optional[Clock] = None, *, pin_factory: Any = None,
                 gpio: Optional[Gpio] = None, environ: Optional[Dict[str, str]] = None,
                 motion: Optional[MotionSource] = None, with_broker: bool = True,
                 on_event: Optional[Callable[[Event], None]] = None) -> Daemon:
    """Everything ``retrowalk run`` needs, built from the config; nothing is opened twice."""
    from ..alerting.alerts import AlertManager
    from ..transport.outbox import Outbox
    from .sdnotify import Notifier

    clock = clock or MonotonicClock()
    settings = config.daemon
    state_dir = state_dir_of(config)
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # the outbox runs from memory and says storage_fault; it retries the disk itself
        log.error("[paths] state_dir = %r cannot be created (%s); running without a disk", str(state_dir),
                  exc.strerror)
    # read once: a model file replaced or broken later must not stop a re-calibration mid-run
    model = check_can_run(config)
    pipeline = build_pipeline(config, load_calibration(state_dir), model)
    resources: List[Closeable] = []
    link = SensorLink(build_sensor_opener(config, clock, motion, resources), clock, settings,
                      fault_marker=state_dir / "sensor_fault.json")
    if gpio is None:  # built here, so closed here; a caller's own gpio stays the caller's
        gpio = build_gpio_for(config, clock, pin_factory)
        resources.append(gpio)
    alerts = AlertManager(gpio, clock, config.alerts)
    # never raises for the disk: a read-only or missing state dir is a storage_fault, not a stopped monitor
    outbox = Outbox(state_dir / "outbox.sqlite3", clock)
    try:
        publisher = build_publisher(config, outbox, clock, state_dir) if with_broker else None
    except ConfigError:  # e.g. a TLS file that does not exist: let go of the pins and the outbox we opened
        outbox.close()
        for resource in resources:
            resource.close()
        raise
    notifier = Notifier(os.environ if environ is None else environ)
    from ..alerting.wearer_state import STATE_FILE, StateTracker
    wearer = StateTracker(config.mqtt.device_id, state_dir / STATE_FILE,
                          publish=publisher.publish_state if publisher is not None else lambda payload: None)
    return Daemon(link, pipeline, alerts, outbox, publisher, notifier, clock, settings,
                  power=build_power_monitor(config, clock),
                  device_id=config.mqtt.device_id, sample_rate_hz=config.sensor.sample_rate_hz,
                  on_event=on_event, resources=resources, state_dir=state_dir, wearer=wearer,
                  make_pipeline=lambda calibration: build_pipeline(config, calibration, model))


def with_emulated_sensor(config: Config, scenario: str = "still") -> Config:
    """The config with ``[daemon] driver = "emulated"`` (the commands' ``--emulated``)."""
    settings = dataclasses.replace(config.daemon, driver="emulated",
                                   emulator=EmulatorSettings(scenario=scenario, loop=True))
    return dataclasses.replace(config, daemon=settings)


def config_and_clock_for(config: Config, emulated: bool, scenario: str) -> Tuple[Config, Clock]:
    """What a one-shot command (``calibrate``, ``record``) samples with: the configured sensor on real time,
    or with ``--emulated`` the emulated chip playing ``scenario`` on virtual time, so it returns at once."""
    if emulated:
        return with_emulated_sensor(config, scenario), FakeClock()
    return config, MonotonicClock()

