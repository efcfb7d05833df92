"""The program a wearer runs (``retrowalk run``): the main loop and the wiring from the config.

- ``settings``: ``DaemonSettings`` / ``EmulatorSettings`` (the ``[daemon]`` config section);
- ``sensor_link``: the sensor with its fault, backoff and recovery handling;
- ``loop``: ``Daemon`` (``step()``, ``run()``, shutdown), with ``remote`` (the MQTT commands, calibration over
  MQTT) and ``status`` (the status line, telemetry); ``scaled_clock``: ``ScaledClock`` (the demo's faster time);
- ``wakeup``: when the loop next has work (``WakeSchedule``); ``timing``: the wearer's timing it measures;
- ``wiring``: ``build_daemon`` and the ``build_*`` functions, the one place that decides which hardware is real;
- ``blocks`` and ``calibration_file``: reading the sensor for a while, and ``calibration.json``.
"""
from __future__ import annotations

from .blocks import concat_blocks, read_for
from .calibration_file import load_calibration, save_calibration
from .loop import Daemon
from .remote import CALIBRATE_S
from .scaled_clock import ScaledClock, real_seconds
from .sensor_link import RECOVERABLE_SENSOR_ERRORS, SensorLink
from .settings import DRIVERS, SCENARIOS, DaemonSettings, EmulatorSettings
from .wiring import (build_daemon, config_and_clock_for, build_gpio_for, build_motion, build_pipeline, build_publisher, build_sensor,
                     build_power_monitor, build_sensor_opener, daemon_settings, is_raspberry_pi, state_dir_of, with_emulated_sensor)

__all__ = ["CALIBRATE_S", "DRIVERS", "RECOVERABLE_SENSOR_ERRORS", "SCENARIOS", "Daemon", "DaemonSettings",
           "EmulatorSettings", "ScaledClock", "SensorLink", "build_daemon", "build_gpio_for", "build_motion",
           "build_pipeline", "build_power_monitor", "build_publisher", "build_sensor", "build_sensor_opener", "concat_blocks", "config_and_clock_for",
           "daemon_settings", "is_raspberry_pi", "load_calibration", "read_for", "real_seconds",
           "save_calibration", "state_dir_of", "with_emulated_sensor"]
