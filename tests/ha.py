"""Home Assistant's own code, in its own venv (Python 3.13, made by scripts/make_ha_venv.sh), asked through
scripts/ha_check.py in a subprocess: is a discovery config valid, and what would each entity show."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]
CHECKER = REPO / "scripts" / "ha_check.py"


def ha_venv() -> Path:
    return Path(os.environ.get("RETROWALK_HA_VENV", Path.home() / ".cache" / "retrowalk" / "ha-venv"))


def ha_python() -> Optional[Path]:
    python = ha_venv() / "bin" / "python"
    return python if python.exists() else None


def why_no_home_assistant() -> str:
    return (f"Home Assistant is not installed in {ha_venv()} (Python 3.13 venv with homeassistant==2025.4.*); "
            f"make it with 'bash scripts/make_ha_venv.sh' (or set RETROWALK_HA_VENV) to check discovery against "
            f"Home Assistant's own schemas")


def ha_check(configs: Sequence[Tuple[str, str]], messages: Sequence[Tuple[str, Any, bool]] = (),
             discovery_prefix: str = "homeassistant", timeout_s: float = 120.0) -> Dict[str, Any]:
    """Run the checker in the HA venv. ``messages``: ``(topic, payload bytes or str, retained)`` in order."""
    python = ha_python()
    if python is None:
        raise RuntimeError(why_no_home_assistant())
    request = {"discovery_prefix": discovery_prefix, "configs": [list(c) for c in configs],
               "messages": [[t, p.decode("utf-8") if isinstance(p, bytes) else p, bool(r)]
                            for t, p, r in messages]}
    proc = subprocess.run([str(python), str(CHECKER)], input=json.dumps(request), capture_output=True,
                          text=True, timeout=timeout_s)
    if proc.returncode != 0:
        raise RuntimeError(f"scripts/ha_check.py failed: {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def refused(answer: Dict[str, Any]) -> List[str]:
    """The configs Home Assistant refused, with its reason."""
    return [f"{topic}: {c['error']}" for topic, c in answer["configs"].items() if not c["ok"]]
