#!/usr/bin/env python3
"""Fail when a detection figure falls below its floor.

    scripts/check_floors.py MEASURED.json FLOORS.json

MEASURED is what ``retrowalk evaluate --json`` wrote. FLOORS maps a metric (dotted paths reach inside, e.g.
``per_activity.F02.fall_sensitivity``) to ``{"min": x}`` where higher is better or ``{"max": x}`` where lower is
better (false alarms, latency, stumbles reported as falls). Keys starting with ``_`` are comments.
Prints one line per metric and exits 1 if any is beyond its floor or was not measured.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional


def lookup(measured: Dict[str, Any], dotted: str) -> Optional[float]:
    value: Any = measured
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def check(measured: Dict[str, Any], floors: Dict[str, Any]) -> List[str]:
    """One line per floor; lines starting with FAIL are failures."""
    lines = []
    for key, bound in floors.items():
        if key.startswith("_"):
            continue
        value = lookup(measured, key)
        if value is None:
            lines.append(f"FAIL {key}: not measured (missing or null in the evaluation output)")
            continue
        if "min" in bound:
            ok, want = value >= bound["min"], f">= {bound['min']:g}"
        elif "max" in bound:
            ok, want = value <= bound["max"], f"<= {bound['max']:g}"
        else:
            lines.append(f"FAIL {key}: floor has neither 'min' nor 'max' ({bound!r})")
            continue
        if ok:
            lines.append(f"ok   {key} = {value:.4g} ({want})")
        else:
            lines.append(f"FAIL {key} = {value:.4g}, must be {want}")
    return lines


def main(argv: List[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    measured_path, floors_path = (Path(a) for a in argv)
    try:
        measured = json.loads(measured_path.read_text())
        floors = json.loads(floors_path.read_text())
    except (OSError, ValueError) as exc:
        print(f"check_floors: cannot read {exc}", file=sys.stderr)
        return 2
    lines = check(measured, floors)
    print("\n".join(lines))
    failed = sum(line.startswith("FAIL") for line in lines)
    if failed:
        print(f"check_floors: {failed} of {len(lines)} detection figures are below their floors "
              f"({floors_path}); fix the detector, never lower a floor silently", file=sys.stderr)
        return 1
    print(f"check_floors: all {len(lines)} detection figures meet their floors")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
