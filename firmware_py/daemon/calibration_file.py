"""``calibration.json`` in the state dir: written by ``retrowalk calibrate`` (or the MQTT command), read at start."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from ..calibration import Calibration
from ..errors import ConfigError

log = logging.getLogger(__name__)


def load_calibration(state_dir: Path) -> Any:
    """``calibration.json`` from ``retrowalk calibrate``, or ``None`` (uncalibrated: identity mounting)."""

    path = Path(state_dir) / "calibration.json"
    if not path.exists():
        log.warning("no calibration at %s: run 'retrowalk calibrate' while standing still", path)
        return None
    try:
        return Calibration.from_dict(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a calibration retrowalk can read ({exc}); run 'retrowalk calibrate' "
                          f"again") from exc


def save_calibration(state_dir: Path, calibration: Any) -> Path:
    """Write ``calibration.json`` so that a power cut leaves the old file or the new one, never half of one."""

    path = Path(state_dir) / "calibration.json"
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(json.dumps(calibration.to_dict(), indent=2) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path
