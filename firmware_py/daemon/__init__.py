"""The program a wearer runs (``retrowalk run``): the main loop and the wiring from the config.

Import from the modules themselves; this package re-exports nothing, so that ``firmware_py.config`` can read
``daemon.settings`` without pulling in the loop and the wiring (which import the config):

- ``settings``: ``DaemonSettings`` / ``EmulatorSettings`` (the ``[daemon]`` config section);
- ``sensor_link``: the sensor with its fault, backoff and recovery handling;
- ``loop``: ``Daemon`` (``step()``, ``run()``, shutdown), with ``remote`` (the MQTT commands, calibration over
  MQTT) and ``status`` (the status line, telemetry); ``scaled_clock``: ``ScaledClock`` (the demo's faster time);
- ``wakeup``: when the loop next has work (``WakeSchedule``); ``timing``: the wearer's timing it measures;
- ``wiring``: ``build_daemon`` and the ``build_*`` functions, the one place that decides which hardware is real;
- ``blocks`` and ``calibration_file``: reading the sensor for a while, and ``calibration.json``.
"""
