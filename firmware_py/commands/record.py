"""``retrowalk record OUT.csv``: raw samples from the sensor into a CSV file, for ``retrowalk replay`` later."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Iterable, Iterator, TextIO

HELP = "record raw sensor samples to a CSV file (for replay and evaluation later)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, metavar="OUT.csv", help="the file to write (overwritten)")
    parser.add_argument("--seconds", type=float, default=60.0, metavar="S", help="how long (default 60)")
    parser.add_argument("--config", metavar="FILE", help="TOML config (default: the standard locations)")
    parser.add_argument("--emulated", action="store_true",
                        help="record the emulated chip's synthetic backward walk (virtual time: returns at once)")


def with_progress(blocks: Iterable, seconds: float, out: TextIO) -> Iterator:
    """Pass blocks through, drawing a progress bar on ``out`` when it is a terminal (quiet otherwise)."""
    first_s = None
    count = 0
    for block in blocks:
        if first_s is None:
            first_s = float(block.t_s[0])
        count += len(block)
        if out.isatty():
            done_s = min(seconds, float(block.t_s[-1]) - first_s)
            filled = int(30 * done_s / seconds) if seconds > 0 else 30
            out.write(f"\rrecording ▕{'█' * filled}{'·' * (30 - filled)}▏ {done_s:5.1f}/{seconds:g} s, "
                      f"{count} samples")
            out.flush()
        yield block
    if out.isatty():
        out.write("\n")


def run(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..daemon.blocks import read_for
    from ..daemon.wiring import build_sensor, config_and_clock_for
    from ..evaluation.datasets import write_csv

    if args.seconds <= 0:
        print(f"retrowalk record: --seconds {args.seconds} is not allowed; use a positive number", file=sys.stderr)
        return 2
    config, clock = config_and_clock_for(load_config(args.config), args.emulated, "backward_walk")
    sensor = build_sensor(config, clock)
    try:
        blocks = read_for(sensor, clock, args.seconds, config.daemon.poll_interval_s)
        write_csv(args.out, with_progress(blocks, args.seconds, sys.stderr))
    finally:
        sensor.close()
    print(f"wrote {args.out}{' (synthetic: emulated chip)' if args.emulated else ''}; "
          f"play it back with: retrowalk replay {args.out}")
    return 0
