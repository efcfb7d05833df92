"""``retrowalk config check FILE`` / ``show [FILE]`` / ``example [--markdown]``.

``check`` is what to run after editing the file and before restarting the service: it prints ``FILE: OK`` or
the one problem (file, section, key, value, what is allowed) and exits 78. ``show`` prints the effective config
(defaults filled in, secrets redacted). ``example`` writes the commented example with every key at its default,
from the settings classes' own docstrings, so ``retrowalk.example.toml`` and ``docs/config.md`` are regenerated
rather than edited by hand.
"""
from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import typing
from typing import Any, Dict, Iterator, List, Tuple

HELP = "check a config file (exit 78 on a problem), show the effective config, or print the example"

HEADER = """\
# retrowalk configuration: every key, at its default.
# Copy to /etc/retrowalk/retrowalk.toml (scripts/install.sh does) and change only what you need;
# a key you leave out keeps its default. After editing, run:  retrowalk config check FILE
# Unknown keys are errors (a typo never silently falls back to a default).
# Secrets (the MQTT password, TLS key) are never written here: point to a file instead.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    check = sub.add_parser("check", help="validate FILE: print 'FILE: OK' (exit 0) or the problem (exit 78)")
    check.add_argument("file", metavar="FILE")
    show = sub.add_parser("show", help="print the effective config (defaults filled in, secrets redacted)")
    show.add_argument("file", metavar="FILE", nargs="?",
                      help="default: $RETROWALK_CONFIG, else /etc/retrowalk/retrowalk.toml, else the defaults")
    example = sub.add_parser("example", help="print the commented example config (every key at its default)")
    example.add_argument("--markdown", action="store_true", help="the reference for docs/config.md instead")


def run(args: argparse.Namespace) -> int:
    from ..config import Config, load_config

    if args.action == "check":
        load_config(args.file)  # a ConfigError becomes the message and exit 78 in cli.py
        print(f"{args.file}: OK")
    elif args.action == "show":
        sys.stdout.write(load_config(args.file).to_toml(redact=True))
    else:
        sys.stdout.write(markdown_reference(Config()) if args.markdown else example_toml(Config()))
    return 0


# ---- the example file and the reference, from the dataclasses ---------------------------------------------

def field_docs(cls: type) -> Dict[str, str]:
    """Each field's description from the class docstring's numpydoc ``Attributes`` (or ``Parameters``)
    section, as one line; ``a, b : float`` documents both."""
    lines = (cls.__doc__ or "").expandtabs().splitlines()
    docs: Dict[str, str] = {}
    names: List[str] = []
    text: List[str] = []
    inside = False
    base_indent = 0

    def flush() -> None:
        for name in names:
            docs[name] = " ".join(text)

    for i, line in enumerate(lines):
        stripped = line.strip()
        underlined = i + 1 < len(lines) and lines[i + 1].strip() and set(lines[i + 1].strip()) == {"-"}
        if underlined:  # a numpydoc section heading
            flush()
            names, text = [], []
            inside = stripped in ("Attributes", "Parameters")
            base_indent = len(line) - len(line.lstrip())
            continue
        if not inside or not stripped or set(stripped) == {"-"}:
            continue
        indent = len(line) - len(line.lstrip())
        heading = re.match(r"^(\w+(?:\s*,\s*\w+)*)\s*(?::|$)", stripped)
        if indent <= base_indent and heading:
            flush()
            names, text = [n.strip() for n in heading.group(1).split(",")], []
        elif names:
            text.append(stripped)
    flush()
    return docs


def _sections(obj: Any, path: Tuple[str, ...] = ()) -> Iterator[Tuple[Tuple[str, ...], Any]]:
    """(path, settings) for every section and subtable, parents first."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            yield path + (f.name,), value
            yield from _sections(value, path + (f.name,))


def _scalar_fields(settings: Any) -> Iterator[Tuple[str, Any, Any]]:
    """(key, default, type hint) for every key of one section that is not itself a subtable."""
    hints = typing.get_type_hints(type(settings))
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if f.init and not (dataclasses.is_dataclass(value) and not isinstance(value, type)):
            yield f.name, value, hints.get(f.name, Any)


def _summary(cls: type) -> str:
    """The docstring's first line, unless it is the signature dataclasses writes for undocumented classes."""
    doc = (cls.__doc__ or "").strip()
    if not doc or doc.startswith(cls.__name__ + "("):
        return ""
    line = doc.splitlines()[0].strip()
    return "" if line in ("Attributes", "Parameters") else line


def _plain(text: str) -> str:
    """reST inline literals (``x``) as plain text, for TOML comments."""
    return text.replace("``", "")


def _md(text: str) -> str:
    """reST inline literals as Markdown code."""
    return text.replace("``", "`").replace("|", "\\|")


def _wrap(text: str, width: int = 108, prefix: str = "# ") -> List[str]:
    import textwrap

    return [prefix + line for line in textwrap.wrap(text, width - len(prefix))] or []


def example_toml(config: Any) -> str:
    """The commented example: every section and key at its default, described from the docstrings."""
    from ..config import _describe, _show

    out = [HEADER]
    for path, settings in _sections(config):
        out.append("")
        out += _wrap(_plain(_summary(type(settings))))
        out.append(f"[{'.'.join(path)}]")
        docs = field_docs(type(settings))
        for key, default, hint in _scalar_fields(settings):
            description = _plain(docs.get(key, ""))
            out.append("")
            out += _wrap(f"{description} Type: {_describe(hint)}.".strip())
            if default is None:
                out.append(f"#{key} = {_example_of(hint)}   # not set by default")
            else:
                out.append(f"{key} = {_value(key, default, _show)}")
    return "\n".join(out).rstrip() + "\n"


def _value(key: str, value: Any, show: Any) -> str:
    if key.endswith("address") and isinstance(value, int) and not isinstance(value, bool):
        return f"{value:#04x}"
    return show(value)


def _example_of(hint: Any) -> str:
    """A placeholder value for a key that is unset by default."""
    from ..config import _strip_optional

    hint = _strip_optional(hint)
    return {int: "0", float: "0.0", bool: "false"}.get(hint, '"..."')


def markdown_reference(config: Any) -> str:
    """docs/config.md's key reference: one table per section."""
    from ..config import _describe, _show

    out = ["## Reference (generated by `retrowalk config example --markdown`)", ""]
    for path, settings in _sections(config):
        out.append(f"### `[{'.'.join(path)}]`")
        out.append("")
        summary = _summary(type(settings))
        if summary:
            out += [_md(summary), ""]
        docs = field_docs(type(settings))
        rows = list(_scalar_fields(settings))
        if rows:
            out += ["| key | default | allowed | what it is |", "|---|---|---|---|"]
            for key, default, hint in rows:
                shown = "(not set)" if default is None else _value(key, default, _show)
                description = _md(docs.get(key, ""))
                out.append(f"| `{key}` | `{shown}` | {_describe(hint)} | {description} |")
            out.append("")
    return "\n".join(out).rstrip() + "\n"
