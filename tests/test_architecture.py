"""The import rules of STYLE 2.2, made executable: each reads the source with ``ast`` (nothing is imported).

- hardware and network libraries are imported in one module each (the HAL boundary, and the one MQTT client);
- ``hal`` knows chips and pins, never walking: it does not import ``firmware_py``;
- signal processing is pure and replayable: no logging, no clock reads, no threads, no I/O;
- the config file is read in one place.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("hal", "firmware_py")

#: library -> the one module allowed to import it
ONLY_IN = {
    "smbus2": {"hal/bus.py"},
    "gpiozero": {"hal/gpio.py"},
    "paho": {"firmware_py/transport/mqtt.py"},
    "tomllib": {"firmware_py/config.py"},
    "tomli": {"firmware_py/config.py"},
}

#: the signal-processing stages (files, or packages as folders)
SIGNAL_PROCESSING = ("firmware_py/detection",)
#: what those stages must not import: time is the samples' t_s, and nothing in them logs or waits
IMPURE = {"logging", "time", "datetime", "threading", "asyncio", "socket", "sqlite3", "subprocess",
          "hal.clock", "hal.bus", "hal.gpio", "hal.mpu6050", "hal.emulated", "firmware_py.transport.mqtt",
          "firmware_py.transport.outbox", "firmware_py.daemon", "firmware_py.daemon.sdnotify", "firmware_py.config"}


def sources(repo: Path, *roots: str) -> Iterator[Path]:
    for root in roots:
        path = repo / root
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from sorted(path.rglob("*.py"))


def module_name(repo: Path, path: Path) -> str:
    parts = list(path.relative_to(repo).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(repo: Path, path: Path) -> List[Tuple[int, str]]:
    """(line, absolute module name) for every import in the file, at any depth (lazy imports count too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(repo, path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = package[:len(package) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((node.lineno, name))
            # ``from . import gait`` imports the module firmware_py.detection.gait
            found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names]
    return found


def matches(name: str, rule: str) -> bool:
    return name == rule or name.startswith(rule + ".")


def violations(repo: Path, roots: Tuple[str, ...], forbidden: Dict[str, Set[str]]) -> List[str]:
    """Imports under ``roots`` that break a rule; ``forbidden``: rule -> the files allowed to break it."""
    found = []
    for path in sources(repo, *roots):
        rel = path.relative_to(repo).as_posix()
        for line, name in imports(repo, path):
            for rule, allowed in forbidden.items():
                if matches(name, rule) and rel not in allowed:
                    found.append(f"{rel}:{line} imports {name}")
    return sorted(set(found))


def test_each_hardware_or_network_library_is_imported_in_one_module_when_the_source_is_scanned():
    assert violations(REPO, PACKAGES, ONLY_IN) == []


def test_hal_imports_nothing_from_firmware_py_when_the_source_is_scanned():
    assert violations(REPO, ("hal",), {"firmware_py": set()}) == []


def test_signal_processing_reads_no_clock_logs_nothing_and_starts_no_thread_when_scanned():
    assert violations(REPO, SIGNAL_PROCESSING, {rule: set() for rule in IMPURE}) == []


def test_the_rules_catch_a_forbidden_import_when_one_is_written(tmp_path):
    # the checker itself must be able to fail: a detector that logs and a HAL module that reaches up
    fake = tmp_path / "firmware_py" / "detection" / "detectors"
    fake.mkdir(parents=True)
    (fake / "noisy.py").write_text("import numpy\n\ndef f():\n    import logging\n    from ...transport.mqtt import x\n")
    hal = tmp_path / "hal"
    hal.mkdir()
    (hal / "bad.py").write_text("from firmware_py.events import Event\nimport smbus2\n")
    assert violations(tmp_path, ("firmware_py/detection/detectors",), {rule: set() for rule in IMPURE}) == [
        "firmware_py/detection/detectors/noisy.py:4 imports logging",
        "firmware_py/detection/detectors/noisy.py:5 imports firmware_py.transport.mqtt",
        "firmware_py/detection/detectors/noisy.py:5 imports firmware_py.transport.mqtt.x",
    ]
    assert violations(tmp_path, ("hal",), {"firmware_py": set()}) == ["hal/bad.py:1 imports firmware_py.events",
                                                                  "hal/bad.py:1 imports firmware_py.events.Event"]
    assert violations(tmp_path, ("hal",), ONLY_IN) == ["hal/bad.py:2 imports smbus2"]
