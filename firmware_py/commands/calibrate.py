"""``retrowalk calibrate``: measure gyro bias and how the sensor sits on the body while the wearer stands still."""
from __future__ import annotations

import argparse
import sys

HELP = "stand still ~5 s: measure gyro bias and the sensor's mounting, save them to the state dir"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="TOML config (default: the standard locations)")
    parser.add_argument("--seconds", type=float, default=5.0, metavar="S",
                        help="how long to stand still (default 5)")
    parser.add_argument("--emulated", action="store_true",
                        help="use the emulated chip (standing upright) instead of the real one: for trying "
                             "it off a Raspberry Pi; runs on virtual time, so it returns at once")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..detection.calibration import calibrate_at_rest
    from ..detection.orientation import tilt_and_lean_deg
    from ..config import load_config
    from ..daemon.blocks import concat_blocks, read_for
    from ..daemon.calibration_file import save_calibration
    from ..daemon.wiring import build_sensor, config_and_clock_for, state_dir_of

    if args.seconds < 1:
        print(f"retrowalk calibrate: --seconds {args.seconds} is too short; stand still for at least 1 s",
              file=sys.stderr)
        return 2
    config, clock = config_and_clock_for(load_config(args.config), args.emulated, "still")
    sensor = build_sensor(config, clock)
    try:
        print(f"Stand still and upright, as at the start of a walk, for {args.seconds:g} s "
              f"({'emulated sensor' if args.emulated else 'measuring now'})...", flush=True)
        block = concat_blocks(list(read_for(sensor, clock, args.seconds,
                                            config.daemon.poll_interval_s)))
    finally:
        sensor.close()
    calibration = calibrate_at_rest(block)
    state_dir = state_dir_of(config)
    state_dir.mkdir(parents=True, exist_ok=True)
    path = save_calibration(state_dir, calibration)
    bias = np.asarray(calibration.gyro_bias_dps, dtype=float)
    # how far the sensor's z axis is from the body's up: the mounting tilt the calibration removes
    up_in_sensor = np.asarray(calibration.body_from_sensor, dtype=float)[2]
    ux, uy, uz = (up_in_sensor / np.linalg.norm(up_in_sensor)).tolist()
    tilt_deg = tilt_and_lean_deg((ux, uy, uz))[0]
    print(f"calibrated from {len(block)} samples: gyro bias "
          f"({bias[0]:+.2f}, {bias[1]:+.2f}, {bias[2]:+.2f}) °/s, sensor z axis {tilt_deg:.0f}° from vertical\n"
          f"saved to {path}; 'retrowalk run' loads it at start")
    return 0
