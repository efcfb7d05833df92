"""``calibration.json`` in the state dir: written by ``retrowalk calibrate`` (or the MQTT command), read at start."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ..atomic_file import write_atomically
from ..detection.calibration import Calibration
from ..errors import ConfigError

log = logging.getLogger(__name__)


def load_calibration(state_dir: Path) -> Any:
    """``calibration.json`` from ``retrowalk calibrate``, or ``None`` (uncalibrated: identity mounting)."""

    path = Path(state_dir) / "calibration.json"
    try:
        text = path.read_text()   # not exists() first: on a failing card stat() raises too
    except FileNotFoundError:
        log.warning("no calibration at %s: run 'retrowalk calibrate' while standing still", path)
        return None
    except OSError as exc:  # a failing card: learn the mounting at rest rather than stop the monitor
        log.error("cannot read %s (%s): learning the mounting at rest instead", path, exc)
        return None
    try:
        return Calibration.from_dict(json.loads(text))
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a calibration retrowalk can read ({exc}); run 'retrowalk calibrate' "
                          f"again") from exc


def save_calibration(state_dir: Path, calibration: Any) -> Path:
    """Write ``calibration.json`` so that a power cut leaves the old file or the new one, never half of one."""

    return write_atomically(Path(state_dir) / "calibration.json", json.dumps(calibration.to_dict(), indent=2) + "\n")
