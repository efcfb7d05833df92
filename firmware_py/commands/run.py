"""``retrowalk run``: the monitor itself (what the systemd unit starts)."""
from __future__ import annotations

import argparse

HELP = "run the monitor: sample the sensor, detect stumbles and falls, buzz, publish over MQTT"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE",
                        help="TOML config (default: the standard locations; see 'retrowalk config --help')")


def run(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..daemon.wiring import build_daemon

    config = load_config(args.config)
    return build_daemon(config).run()
