"""The import rules of STYLE 2.2, made executable: each reads the source with ``ast`` (nothing is imported).

- hardware and network libraries are imported in one module each (the HAL boundary, and the one MQTT client);
- ``hal`` knows chips and pins, never walking: it does not import ``firmware_py``, nor take, name or mention its
  types (a parameter, attribute or annotation after a firmware class, the class in a docstring or comment, the
  word ``firmware_py`` anywhere);
- signal processing is pure and replayable: no logging, no clock reads, no threads, no I/O;
- the config file is read in one place;
- the stages are layers, each importing only from the layers below it (``LAYERS``; docs/architecture.md).
"""
from __future__ import annotations

import ast
import io
import re
import tokenize
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
          "hal.clock", "hal.bus", "hal.gpio", "hal.mpu6050", "hal.emulated", "hal.emulated_bus",
          "firmware_py.transport", "firmware_py.daemon", "firmware_py.config"}

#: bottom to top; a module may import from its own layer and those below (longest matching prefix wins).
#: The daemon's settings and the power monitor sit with config, which aggregates every stage's settings;
#: the rest of the daemon (loop, wiring) sits above everything it assembles.
LAYERS = (
    ("hal",),
    ("firmware_py", "firmware_py.events", "firmware_py.errors", "firmware_py.atomic_file",
     "firmware_py.settings_checks", "firmware_py.toml_settings"),
    ("firmware_py.detection",),
    ("firmware_py.alerting",),
    ("firmware_py.transport",),
    ("firmware_py.config", "firmware_py.daemon.settings", "firmware_py.daemon.power"),
    ("firmware_py.evaluation",),
    ("firmware_py.daemon",),
    ("firmware_py.commands",),
    ("firmware_py.cli",),
)


def layer_of(name: str) -> int:
    best, layer = "", -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if matches(name, prefix) and len(prefix) > len(best):
                best, layer = prefix, index
    return layer


def upward_imports(repo: Path) -> List[str]:
    """Imports of a higher layer than the importing module's own."""
    found = []
    for path in sources(repo, *PACKAGES):
        own = layer_of(module_name(repo, path))
        for line, name in imports(repo, path):
            theirs = layer_of(name)
            if theirs > own:
                found.append(f"{path.relative_to(repo)}:{line} imports {name} (layer {theirs}, above its own {own})")
    return found


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


def class_names(repo: Path, root: str) -> Set[str]:
    """The public classes defined under ``root``."""
    return {node.name for path in sources(repo, root)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_")}


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def is_compound(name: str) -> bool:
    """``AlertSettings``, not ``Event``: a one-word class name is also an English word (or a datasheet's)."""
    return re.fullmatch(r"[A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+", name) is not None


def _own_names(tree: ast.AST) -> Set[str]:
    """What a file defines or imports itself: ``from threading import Event`` makes ``Event`` its own."""
    own = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            own.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            own |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return own


def _annotation_names(node: ast.AST) -> Set[str]:
    """The bare names an annotation uses, quoted ones included (``threading.Event`` names no ``Event``)."""
    names = set()
    for part in ast.walk(node):
        if isinstance(part, ast.Name):
            names.add(part.id)
        elif isinstance(part, ast.Constant) and isinstance(part.value, str):
            try:
                names |= _annotation_names(ast.parse(part.value, mode="eval"))
            except SyntaxError:
                pass
    return names


def _typed_names(tree: ast.AST) -> Iterator[Tuple[int, str, str, ast.AST]]:
    """(line, what, name, annotation or None) for every parameter, attribute and return annotation."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            for arg in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
                if arg is not None:
                    yield arg.lineno, "parameter", arg.arg, arg.annotation
            if node.returns is not None:
                yield node.lineno, "return of", node.name, node.returns
        elif isinstance(node, ast.AnnAssign):
            target = node.target
            name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
            yield node.lineno, "attribute", name, node.annotation
        elif isinstance(node, (ast.Assign, ast.AugAssign)):
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                if isinstance(target, ast.Attribute):
                    yield node.lineno, "attribute", target.attr, None


def _prose(text: str) -> Iterator[Tuple[int, str]]:
    """(line, text) of every string (docstrings included) and comment."""
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type in (tokenize.STRING, tokenize.COMMENT):
            yield token.start[0], token.string


def firmware_types_in_hal(repo: Path) -> List[str]:
    """Where ``hal`` takes, names or mentions what belongs to ``firmware_py`` (an import aside, which the import
    rule sees): the word ``firmware_py`` anywhere; a firmware class annotating a parameter, attribute or return;
    a parameter or attribute named after one (``alert_settings``); a firmware class of two or more words
    (``AlertSettings``) in a docstring, string or comment. Names a hal file defines or imports are its own."""
    firmware = class_names(repo, "firmware_py")
    found = []
    for path in sources(repo, "hal"):
        rel = path.relative_to(repo).as_posix()
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text, filename=str(path))
        theirs = firmware - _own_names(tree)
        named_after = {snake_case(name): name for name in theirs if is_compound(name)}
        found += [f"{rel}:{n} mentions firmware_py" for n, line in enumerate(text.splitlines(), 1)
                  if "firmware_py" in line]
        for line, what, name, annotation in _typed_names(tree):
            if name in theirs or name in named_after:
                found.append(f"{rel}:{line} {what} {name} is named after {named_after.get(name, name)}")
            for used in sorted(_annotation_names(annotation) & theirs) if annotation is not None else []:
                found.append(f"{rel}:{line} {what} {name} is annotated with {used}")
        for line, prose in _prose(text):
            for name in sorted(name for name in theirs if is_compound(name)):
                found += [f"{rel}:{line + prose[:m.start()].count(chr(10))} names {name}"
                          for m in re.finditer(rf"\b{name}\b", prose)]
    return sorted(set(found))


def test_each_hardware_or_network_library_is_imported_in_one_module_when_the_source_is_scanned():
    assert violations(REPO, PACKAGES, ONLY_IN) == []


def test_hal_imports_nothing_from_firmware_py_when_the_source_is_scanned():
    assert violations(REPO, ("hal",), {"firmware_py": set()}) == []


def test_hal_takes_names_and_mentions_no_firmware_py_type_when_the_source_is_scanned():
    assert firmware_types_in_hal(REPO) == []


def test_signal_processing_reads_no_clock_logs_nothing_and_starts_no_thread_when_scanned():
    assert violations(REPO, SIGNAL_PROCESSING, {rule: set() for rule in IMPURE}) == []


def test_no_stage_imports_from_a_stage_above_it_when_the_source_is_scanned():
    assert upward_imports(REPO) == []


def test_the_layer_rule_catches_an_upward_import_when_one_is_written(tmp_path):
    # an alert that reaches up into the daemon's wiring, and a detector that imports the config
    for folder in ("alerting", "detection"):
        (tmp_path / "firmware_py" / folder).mkdir(parents=True)
    (tmp_path / "firmware_py" / "alerting" / "alerts.py").write_text(
        "from ..events import Event\nfrom ..daemon.wiring import build_daemon\n")
    (tmp_path / "firmware_py" / "detection" / "fall.py").write_text("from firmware_py.config import Config\n")
    assert upward_imports(tmp_path) == [
        "firmware_py/alerting/alerts.py:2 imports firmware_py.daemon.wiring (layer 7, above its own 3)",
        "firmware_py/alerting/alerts.py:2 imports firmware_py.daemon.wiring.build_daemon (layer 7, above its own 3)",
        "firmware_py/detection/fall.py:1 imports firmware_py.config (layer 5, above its own 2)",
        "firmware_py/detection/fall.py:1 imports firmware_py.config.Config (layer 5, above its own 2)",
    ]


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


def test_the_hal_rule_catches_a_firmware_type_taken_named_or_mentioned_when_one_is_written(tmp_path):
    firmware = tmp_path / "firmware_py" / "alerting"
    firmware.mkdir(parents=True)
    (firmware / "alert_settings.py").write_text("class AlertSettings:\n    pass\n\n\nclass Event:\n    pass\n")
    hal = tmp_path / "hal"
    hal.mkdir()
    # build_gpio as it was: typed Any, the firmware's settings named only in its docstring
    (hal / "gpio.py").write_text(
        'from typing import Any\n'
        '\n'
        '\n'
        'def build_gpio(settings: Any, pin_factory: Any = None) -> Any:\n'
        '    """Buzzer and button from ``settings`` (an ``AlertSettings``: ``buzzer_pin``)."""\n')
    (hal / "bad.py").write_text(
        'from threading import Event\n'
        '\n'
        '\n'
        'def wire(alert_settings, done: Event, more: "AlertSettings") -> None:\n'
        '    self.alert_settings = alert_settings  # see firmware_py.alerting\n')
    assert firmware_types_in_hal(tmp_path) == [
        "hal/bad.py:4 names AlertSettings",  # the quoted annotation is a string, too
        "hal/bad.py:4 parameter alert_settings is named after AlertSettings",
        "hal/bad.py:4 parameter more is annotated with AlertSettings",
        "hal/bad.py:5 attribute alert_settings is named after AlertSettings",
        "hal/bad.py:5 mentions firmware_py",
        "hal/gpio.py:5 names AlertSettings",
    ]
