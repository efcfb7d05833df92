"""What ``retrowalk run`` checks before it starts, shared with ``retrowalk config check`` so that a config the
check passes is one the daemon runs with.

Every problem is one ``ConfigError`` naming the key, the file and the fix (exit 78). The state directory is the
exception at run time: the daemon runs from memory with a ``storage_fault`` when it cannot write there (a card
gone read-only must not stop the monitor), so only ``config check`` refuses a state dir that cannot work.
"""
from __future__ import annotations

from pathlib import Path

from ..config import Config
from ..detection.detectors.trees import TreeEnsemble
from ..errors import ConfigError


def check_can_run(config: Config) -> TreeEnsemble:
    """Everything ``run`` needs from the files the config names; returns the pre-impact model it loaded."""
    from ..detection.detectors.balance import load_model_for
    from ..transport.mqtt_settings import read_password_file

    model = load_model_for(config.detection.balance)  # a file that is no model (e.g. /etc/passwd): ConfigError
    if config.mqtt.password_file:
        read_password_file(config.mqtt.password_file)  # unreadable, not a file, not UTF-8: ConfigError
    return model


def check_state_dir(config: Config) -> None:
    """``[paths] state_dir`` is a directory, or a path that can become one (not under a file).

    Not whether it is writable: that depends on who runs the check (root, a user, the service user); the
    daemon says ``storage_fault`` when it cannot write there."""
    state_dir = Path(config.paths.state_dir).expanduser()
    where = f"[paths] state_dir = {str(state_dir)!r}"
    existing = state_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{where}: {existing} is not a directory; choose a directory path "
                          f"(the default is /var/lib/retrowalk)")
