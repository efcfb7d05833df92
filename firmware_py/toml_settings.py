"""Settings dataclasses to and from TOML, for any frozen dataclass whose fields carry type hints.

The reader (``settings_from_table``) reads each field's type hint, converts the TOML value to it (a nested
dataclass is a subtable, ``[detection.fall]``), rejects unknown keys with the nearest valid one, and turns
every problem into one ``ConfigError`` naming the file, the section, the key, the value and what is allowed::

    retrowalk.toml: [sensor] acel_range_g is not a known key; did you mean accel_range_g?
    retrowalk.toml: [sensor] accel_range_g = 3 is not allowed; use 2, 4, 8 or 16

The writer (``section_to_toml``) gives TOML that reads back to an equal instance, redacting any value whose
key looks secret. ``check_named_files``/``resolve_named_files`` handle the keys that name files (password,
TLS): those are checked to exist, never read. Parsing the file itself is ``firmware_py.config``'s job.
"""
from __future__ import annotations

import dataclasses
import difflib
import enum
import math
import os
import re
import types
import typing
from collections import abc
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from .errors import ConfigError

__all__ = ["settings_from_table", "check_named_files", "resolve_named_files", "section_to_toml", "fields_of",
           "describe_type", "toml_value", "MovedKeys", "REDACTED", "UNIT_BOUNDS"]

#: a key's path (section, subsection, key) -> where it lives now, in words (``"[sensor] gyro_range_dps"``)
MovedKeys = Mapping[Tuple[str, ...], str]

#: keys whose values are never shown (the config should only hold paths to secrets, but a user may slip)
_SECRET_KEY = re.compile(r"(password|secret|token|passphrase)(?!_file)", re.IGNORECASE)
REDACTED = "<redacted>"
#: keys that name a file the config depends on (``password_file``, ``ca_file``, ssl's ``certfile``/``keyfile``)
_FILE_KEY = re.compile(r"(^|_)file$|^(cert|key)file$")


def settings_from_table(cls: type, table: Mapping[str, Any], where: str = "retrowalk.toml",
                        section: str = "", moved_keys: Optional[MovedKeys] = None) -> Any:
    """An instance of any settings dataclass ``cls`` from a parsed TOML table (what ``load_config`` does for
    each section): unknown keys, wrong types and values ``cls`` rejects raise ``ConfigError`` naming
    ``where`` and ``[section]``.

    ``moved_keys`` maps the path of a key that lives elsewhere now (``("detection", "orientation",
    "gyro_range_dps")``) to where it lives, so a file that still has it is told where to move it.
    """
    return _build(cls, table, where, tuple(section.split(".")) if section else (), moved_keys or {})


def _label(where: str, section: Tuple[str, ...]) -> str:
    return f"{where}: [{'.'.join(section)}]" if section else f"{where}:"


def _build(cls: type, table: Mapping[str, Any], where: str, section: Tuple[str, ...], moved: MovedKeys) -> Any:
    """An instance of dataclass ``cls`` from a TOML table; missing keys keep their defaults."""
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    kwargs: Dict[str, Any] = {}
    for key, value in table.items():
        if key not in names:
            raise ConfigError(_unknown(key, names, where, section, moved, is_root=not section))
        hint = hints.get(key, Any)
        if _dataclass_of(hint) is not None and not section and not isinstance(value, Mapping):
            raise ConfigError(f"{where}: {key} = {toml_value(value)} is not allowed; [{key}] is a section "
                              f"(write it as a [{key}] table)")
        kwargs[key] = _convert(value, hint, where, section, key, moved)
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{_label(where, section)} {exc}") from None


def _unknown(key: str, names: List[str], where: str, section: Tuple[str, ...], moved: MovedKeys,
             is_root: bool) -> str:
    moved_to = moved.get(section + (key,))
    if moved_to:
        return (f"{_label(where, section)} {key} is not a known key; it is {moved_to} now (one setting for the "
                f"chip and the detection): move it there")
    near = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    if is_root:
        hint = f"; did you mean [{near[0]}]?" if near else f"; the sections are {', '.join(names)}"
        return f"{where}: [{key}] is not a known section{hint}"
    if near:
        hint = f"; did you mean {near[0]}?"
    else:
        hint = f"; the keys of [{'.'.join(section)}] are {', '.join(names)}"
    return f"{_label(where, section)} {key} is not a known key{hint}"


def _hints(cls: type) -> Dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # an annotation this Python cannot evaluate (e.g. ``X | None`` on 3.9): accept as is
        return {f.name: Any for f in dataclasses.fields(cls)}


def _dataclass_of(hint: Any) -> Optional[type]:
    hint = _strip_optional(hint)
    return hint if isinstance(hint, type) and dataclasses.is_dataclass(hint) else None


def _union_args(hint: Any) -> Optional[Tuple[Any, ...]]:
    origin = typing.get_origin(hint)
    if origin is typing.Union or (hasattr(types, "UnionType") and origin is getattr(types, "UnionType")):
        return typing.get_args(hint)
    return None


def _strip_optional(hint: Any) -> Any:
    args = _union_args(hint)
    if args is not None:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return hint


class _Rejected(Exception):
    """A value does not fit a type; carries what is allowed, in words."""

    def __init__(self, allowed: str) -> None:
        super().__init__(allowed)
        self.allowed = allowed


def _convert(value: Any, hint: Any, where: str, section: Tuple[str, ...], key: str, moved: MovedKeys) -> Any:
    sub = _dataclass_of(hint)
    if sub is not None:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{_label(where, section)} {key} = {toml_value(value)} is not allowed; "
                              f"[{'.'.join(section + (key,))}] is a table of settings")
        return _build(sub, value, where, section + (key,), moved)
    try:
        converted = _coerce(value, hint)
    except _Rejected as exc:
        raise ConfigError(f"{_label(where, section)} {key} = {toml_value(value)} is not allowed; "
                          f"use {exc.allowed}") from None
    _check_unit_bound(converted, where, section, key)
    return converted


#: the largest magnitude a value may have, by the unit its key ends in: beyond these no setting means
#: anything on a person (the MPU-6050 measures at most 16 g and 2000 °/s), and 1e308 must not pass silently
UNIT_BOUNDS = {"_g": (64.0, "the MPU-6050 measures at most 16 g"),
               "_dps": (5000.0, "the MPU-6050 measures at most 2000 °/s"),
               "_deg": (360.0, "an angle"),
               "_s": (86400.0, "a day"),
               "_hz": (10000.0, "the MPU-6050 samples at most at 8 kHz")}


def _check_unit_bound(value: Any, where: str, section: Tuple[str, ...], key: str) -> None:
    for suffix, (bound, why) in UNIT_BOUNDS.items():
        if not key.endswith(suffix):
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        flat = [v for item in values for v in (item if isinstance(item, (list, tuple)) else [item])]
        for v in flat:
            if isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) > bound:
                raise ConfigError(f"{_label(where, section)} {key} = {toml_value(value)} is not allowed; a value "
                                  f"in {suffix[1:]} must be within ±{bound:g} ({why})")
        return


def _coerce(value: Any, hint: Any) -> Any:
    """``value`` (as TOML parsed it) converted to ``hint``, or ``_Rejected``."""
    if hint is Any or hint is object:
        return value
    args = _union_args(hint)
    if args is not None:
        options = [a for a in args if a is not type(None)]  # TOML has no null: omit the key to keep None
        for option in options:
            try:
                return _coerce(value, option)
            except _Rejected:
                continue
        raise _Rejected(" or ".join(describe_type(o) for o in options))
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        allowed = typing.get_args(hint)
        if value in allowed and type(value) in {type(a) for a in allowed}:
            return value
        raise _Rejected(describe_type(hint))
    if origin in (tuple, list, abc.Sequence):
        return _coerce_sequence(value, hint, origin)
    if origin in (dict, abc.Mapping):
        if not isinstance(value, Mapping):
            raise _Rejected(describe_type(hint))
        key_hint, value_hint = (typing.get_args(hint) or (str, Any))
        return {_coerce(k, key_hint): _coerce(v, value_hint) for k, v in value.items()}
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise _Rejected(describe_type(hint))
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _Rejected(describe_type(hint))
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        raise _Rejected("a finite number" if isinstance(value, float) else describe_type(hint))
    if hint is str:
        if isinstance(value, str):
            return value
        raise _Rejected(describe_type(hint))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        for member in hint:
            if member.value == value or member.name == value:
                return member
        raise _Rejected(describe_type(hint))
    if isinstance(hint, type) and issubclass(hint, os.PathLike):
        if isinstance(value, str):
            return hint(value)
        raise _Rejected(describe_type(hint))
    if isinstance(hint, type):
        if isinstance(value, hint):
            return value
        raise _Rejected(describe_type(hint))
    return value  # a hint we do not understand: the section's __post_init__ validates it


def _coerce_sequence(value: Any, hint: Any, origin: Any) -> Any:
    if not isinstance(value, (list, tuple)):
        raise _Rejected(describe_type(hint))
    args = typing.get_args(hint)
    if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
        if len(value) != len(args):  # a fixed-length tuple such as (start_s, end_s)
            raise _Rejected(describe_type(hint))
        try:
            return tuple(_coerce(v, a) for v, a in zip(value, args))
        except _Rejected:
            raise _Rejected(describe_type(hint)) from None
    item = args[0] if args else Any
    try:
        items = [_coerce(v, item) for v in value]
    except _Rejected:
        raise _Rejected(describe_type(hint)) from None  # name the whole list's shape, not one item's
    return items if origin is list else tuple(items)


_WORD = {int: "whole number", float: "number", bool: "true/false", str: "string"}
_ARTICLE = {int: "a whole number", float: "a number", bool: "true or false", str: "a string in quotes"}


def describe_type(hint: Any) -> str:
    """What ``hint`` allows, in the words of a TOML file."""
    if hint in _ARTICLE:
        return _ARTICLE[hint]
    args = _union_args(hint)
    if args is not None:
        return " or ".join(describe_type(a) for a in args if a is not type(None))
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return "one of " + ", ".join(toml_value(a) for a in typing.get_args(hint))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return "one of " + ", ".join(toml_value(m.value) for m in hint)
    args = typing.get_args(hint)
    if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
        return "[" + ", ".join(_WORD.get(a, describe_type(a)) for a in args) + "]"
    if origin in (tuple, list, abc.Sequence):
        item = args[0] if args else Any
        if item in _WORD:
            return f"a list of {_WORD[item]}s"
        return "a list of " + describe_type(item)
    if origin in (dict, abc.Mapping):
        return "a table"
    if isinstance(hint, type) and issubclass(hint, os.PathLike):
        return "a path in quotes"
    return getattr(hint, "__name__", str(hint))


# ---- files named by the config --------------------------------------------------------------------------

def _iter_values(obj: Any, section: Tuple[str, ...] = ()) -> Iterator[Tuple[Tuple[str, ...], str, Any]]:
    """(section, key, value) for every scalar field, depth first."""
    for name, value in fields_of(obj):
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            yield from _iter_values(value, section + (name,))
        else:
            yield section, name, value


def _absolute(value: str, base: Path) -> str:
    path = Path(os.path.expanduser(value))
    return str(path if path.is_absolute() else Path(os.path.abspath(base / path)))


def resolve_named_files(settings: Any, base: Path) -> Any:
    """``settings`` with every relative ``*_file``/``certfile``/``keyfile`` path made absolute from ``base``
    (and ``~`` expanded)."""
    changes: Dict[str, Any] = {}
    for key, value in fields_of(settings):
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            resolved = resolve_named_files(value, base)
            if resolved is not value:
                changes[key] = resolved
        elif _FILE_KEY.search(key) and isinstance(value, str) and value:
            if _absolute(value, base) != value:
                changes[key] = _absolute(value, base)
    return dataclasses.replace(settings, **changes) if changes else settings


def check_named_files(settings: Any, where: str, base: Path) -> None:
    """``ConfigError`` when a ``*_file``/``certfile``/``keyfile`` key of ``settings`` (any settings dataclass)
    names a missing file; relative paths are taken from ``base`` (the config file's folder)."""
    # Only existence: whether the service user may read it depends on who runs the check (root, a user, the
    # service), and the daemon reports that when it opens the file.
    for section, key, value in _iter_values(settings):
        if _FILE_KEY.search(key) and isinstance(value, (str, os.PathLike)) and str(value):
            path = Path(_absolute(str(value), base))
            if not path.is_file():
                raise ConfigError(f"{_label(where, section)} {key} = {toml_value(str(value))} is not allowed; "
                                  f"no such file ({path}); create it or correct the path")


# ---- writing TOML back ----------------------------------------------------------------------------------

def fields_of(obj: Any) -> Iterator[Tuple[str, Any]]:
    """(name, value) of every field of a settings dataclass instance, in declaration order."""
    for f in dataclasses.fields(obj):
        if f.init:
            yield f.name, getattr(obj, f.name)


def toml_value(value: Any, key: str = "") -> str:
    """A value as it would be written in TOML (``key`` ending in ``address``: hex, as i2cdetect shows it)."""
    if key.endswith("address") and isinstance(value, int) and not isinstance(value, bool):
        return f"{value:#04x}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return toml_value(value.value)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (str, os.PathLike)):
        text = str(value).replace("\\", "\\\\").replace('"', '\\"')
        return f'"{text}"'
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if dataclasses.is_dataclass(value):
        return toml_value(dict(fields_of(value)))
    return toml_value(str(value))


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_value(key)


def section_to_toml(name: str, settings: Any, redact: bool = True) -> str:
    """``[name]`` and its keys (then its subtables) as TOML, secret-looking values redacted."""
    return "\n".join(_section_lines(name, settings, redact)).strip() + "\n"


def _section_lines(name: str, section: Any, redact: bool, prefix: Tuple[str, ...] = ()) -> List[str]:
    path = prefix + (name,)
    lines = [f"[{'.'.join(path)}]"]
    subtables = []
    for key, value in fields_of(section):
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            subtables.append((key, value))
        elif value is None:
            lines.append(f"# {key} is not set")
        elif redact and _SECRET_KEY.search(key):
            lines.append(f"{key} = {toml_value(REDACTED)}")
        else:
            lines.append(f"{key} = {toml_value(value, key)}")
    lines.append("")
    for key, value in subtables:
        lines += _section_lines(key, value, redact, path)
    return lines
