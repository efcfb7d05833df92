"""One module per ``retrowalk`` subcommand: ``HELP``, ``add_arguments(parser)``, ``run(args) -> int``."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_recording_config_option(parser: argparse.ArgumentParser) -> None:
    """``--config`` for the commands that read recordings (evaluate, replay): only the detection settings and
    the gyro range matter there, and the defaults stand when it is not given (no standard locations)."""
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="take the [detection] settings, and the recordings' gyro range from [sensor] "
                             "gyro_range_dps, from this retrowalk.toml (default: built-in defaults)")
