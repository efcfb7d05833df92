"""``retrowalk selftest``: a checklist of what the monitor needs, each line ✓ or ✗ with how to fix it."""
from __future__ import annotations

import argparse
import os
import socket
import sys
import warnings
from dataclasses import dataclass
from typing import Callable, List, Optional

HELP = ("check the hardware and the broker: I2C bus, MPU-6050, its self-test, the buzzer, the battery gauge and "
        "power flags, MQTT (✓/✗ with fixes)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="TOML config (default: the standard locations)")
    parser.add_argument("--emulated", action="store_true",
                        help="check against the emulated chip and mock pins (off a Raspberry Pi)")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""
    fix: str = ""


class Checklist:
    """Runs checks in order; a check whose prerequisite failed is reported as skipped, not as a second ✗."""

    def __init__(self, out=None) -> None:
        self.out = out if out is not None else sys.stdout
        self.results: List[Check] = []

    def run(self, name: str, check: Callable[[], Check], needs: Optional[str] = None) -> Check:
        if needs is not None and not any(r.ok for r in self.results if r.name == needs):
            result = Check(name, False, f"skipped: needs '{needs}'")
            self.out.write(f"  -  {name}: {result.detail}\n")
            self.results.append(result)
            return result
        try:
            result = check()
        except Exception as exc:  # a check that breaks is a ✗ with its reason, never a traceback
            result = Check(name, False, f"{type(exc).__name__}: {exc}")
        result.name = name
        mark = "✓" if result.ok else "✗"
        self.out.write(f"  {mark}  {name}{': ' + result.detail if result.detail else ''}\n")
        if not result.ok and result.fix:
            self.out.write(f"       fix: {result.fix}\n")
        self.out.flush()
        self.results.append(result)
        return result

    @property
    def all_ok(self) -> bool:
        return all(r.ok for r in self.results)


def run(args: argparse.Namespace) -> int:
    from hal.clock import Clock, FakeClock, MonotonicClock
    from ..config import load_config
    from ..daemon.wiring import build_gpio_for, is_raspberry_pi, open_sensor_bus

    config = load_config(args.config)
    sensor_settings = config.sensor
    bus_number, address = sensor_settings.bus, sensor_settings.address
    clock: Clock = FakeClock() if args.emulated else MonotonicClock()
    print(f"retrowalk selftest{' (EMULATED chip and mock pins)' if args.emulated else ''}:")
    checks = Checklist()
    state = {}

    def bus_present() -> Check:
        if args.emulated:
            state["bus"] = open_sensor_bus(config, clock, emulated=True)
            return Check("", True, "emulated bus")
        path = f"/dev/i2c-{bus_number}"
        if not os.path.exists(path):
            return Check("", False, f"{path} does not exist",
                         "enable I2C: 'sudo raspi-config nonint do_i2c 0' (or raspi-config > Interface Options "
                         "> I2C), then reboot; or set [sensor] bus to the bus the MPU-6050 is on")
        state["bus"] = open_sensor_bus(config, clock, emulated=False)
        return Check("", True, path)

    def device_answers() -> Check:
        from hal.mpu6050_identity import wiring_hint
        from hal.mpu6050_registers import WHO_AM_I
        try:
            state["who_am_i"] = state["bus"].read_byte_data(address, WHO_AM_I)
        except OSError as exc:
            return Check("", False, f"nothing answers at 0x{address:02x} on bus {bus_number} ({exc})",
                         wiring_hint(bus_number))
        return Check("", True, f"0x{address:02x} on bus {bus_number}")

    def identity() -> Check:
        from hal.mpu6050_identity import IDENTITY_FIX, WHO_AM_I_VALUE, identity_problem
        problem = identity_problem(state["who_am_i"])
        if problem is not None:  # the driver's words (SensorIdentityError), so both give the same fix
            return Check("", False, problem, IDENTITY_FIX)
        return Check("", True, f"0x{WHO_AM_I_VALUE:02x} (MPU-6050)")

    def self_test() -> Check:
        from hal.mpu6050 import Mpu6050
        sensor = Mpu6050(state["bus"], sensor_settings, clock)
        try:
            result = sensor.self_test()
        finally:
            sensor.close()
        passed = result.passed
        return Check("", passed, str(result) if not passed else "accelerometer and gyro within the datasheet's "
                     "±14 % of factory trim",
                     "keep the sensor still during the test and run it again; a repeated failure means a damaged "
                     "chip: replace the board")

    def buzzer() -> Check:
        try:
            with warnings.catch_warnings():  # gpiozero's "falling back from lgpio..." notes say nothing new
                warnings.filterwarnings("ignore", message="Falling back from")
                hw = build_gpio_for(config, clock, mock_pins=args.emulated)
        except Exception as exc:
            fix = ("add the user to the gpio group ('sudo adduser $USER gpio', log in again) and check [alerts] "
                   "buzzer_pin" if is_raspberry_pi() else
                   "this is not a Raspberry Pi: run 'retrowalk selftest --emulated' to check with mock pins")
            return Check("", False, f"{type(exc).__name__}: {exc}", fix)
        try:
            hw.buzzer.on()
            clock.sleep(0.3)
            hw.buzzer.off()
        finally:
            hw.close()
        return Check("", True, "beeped for 0.3 s (listen for it)" + (" on a mock pin" if args.emulated else ""))

    def broker() -> Check:
        mqtt = config.mqtt
        try:
            with socket.create_connection((mqtt.host, mqtt.port), timeout=2.0):
                pass
        except OSError as exc:
            return Check("", False, f"{mqtt.host}:{mqtt.port} does not answer ({exc.strerror or exc})",
                         "start a broker ('sudo apt-get install mosquitto' runs one on this machine), or set "
                         "[mqtt] host and port; events are kept in the outbox until it answers")
        return Check("", True, f"{mqtt.host}:{mqtt.port} accepts connections")

    try:
        checks.run("I2C bus present", bus_present)
        checks.run("device at the configured address", device_answers, needs="I2C bus present")
        checks.run("WHO_AM_I says MPU-6050", identity, needs="device at the configured address")
        checks.run("chip self-test", self_test, needs="WHO_AM_I says MPU-6050")
        checks.run("buzzer beep", buzzer)
        from .selftest_power import battery_gauge, power_flags
        checks.run("battery gauge", lambda: battery_gauge(config, clock, args.emulated))
        checks.run("power supply: no under-voltage or throttling", lambda: power_flags(config, args.emulated))
        checks.run("MQTT broker reachable", broker)
    finally:
        if "bus" in state:
            state["bus"].close()
    skipped = sum(r.detail.startswith("skipped") for r in checks.results)
    failed = sum(not r.ok for r in checks.results) - skipped
    print("all checks passed" if checks.all_ok else
          f"{failed} check{'s' if failed != 1 else ''} failed" + (f", {skipped} skipped" if skipped else ""))
    return 0 if checks.all_ok else 1
