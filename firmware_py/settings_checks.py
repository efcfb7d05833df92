"""Checks the settings dataclasses share in their ``__post_init__``, written once so their messages agree."""
from __future__ import annotations

import dataclasses


def require_positive(settings: object, *names: str, prefix: str = "") -> None:
    """Raise ``ValueError`` for the first of ``names`` (every field of the dataclass ``settings`` when none are
    given) whose value is not a number above zero, as ``<prefix><name> = <value> is not allowed; use a positive
    number`` (``prefix`` names the subsection, e.g. ``"fall."``). ``True`` is not a number here: a TOML
    ``true`` where a duration belongs is a mistake, not 1 s."""
    for name in names or tuple(f.name for f in dataclasses.fields(settings)):  # type: ignore[arg-type]
        value = getattr(settings, name)
        if isinstance(value, bool) or not (isinstance(value, (int, float)) and value > 0):
            raise ValueError(f"{prefix}{name} = {value!r} is not allowed; use a positive number")
