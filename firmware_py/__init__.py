"""retrowalk's daemon side: calibration, orientation, gait, detectors, alerts, outbox, MQTT, config, CLI.

Talks to hardware only through ``hal`` interfaces; never imports smbus2 or gpiozero.
"""
__version__ = "0.1.0"
