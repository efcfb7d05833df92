"""``retrowalk`` command line: one subcommand per job, each in ``firmware_py/commands/<name>.py``.

Every command module exposes ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``, and
imports its heavy dependencies inside ``run`` so ``retrowalk --help`` stays fast. This module is the only
place that turns the project's errors into one readable line and an exit code.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import List, Optional

from hal.errors import SensorIdentityError
from .errors import EX_CONFIG, ConfigError, RetrowalkError

# name -> module; order is the order ``--help`` lists them
COMMANDS = ("run", "demo", "calibrate", "record", "replay", "evaluate", "alerts", "selftest", "config")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="retrowalk",
        description="Balance-and-safety monitor for retro (backward) walking.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"firmware_py.commands.{name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return int(args._run(args) or 0)
    except (ConfigError, SensorIdentityError) as exc:
        print(f"retrowalk {args.command}: {exc}", file=sys.stderr)
        return EX_CONFIG
    except RetrowalkError as exc:
        print(f"retrowalk {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
