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
import textwrap
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
        from ..daemon.preflight import check_can_run, check_state_dir

        config = load_config(args.file)  # a ConfigError becomes the message and exit 78 in cli.py
        check_can_run(config)  # what `run` checks before it starts: files of the right kind, models loadable
        check_state_dir(config)
        print(f"{args.file}: OK")
    elif args.action == "show":
        sys.stdout.write(load_config(args.file).to_toml(redact=True))
    else:
        sys.stdout.write(markdown_reference(Config()) if args.markdown else example_toml(Config()))
    return 0


# ---- the example file and the reference, from the dataclasses ---------------------------------------------

_ENTRY = re.compile(r"^([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*(?::\s*(.*))?$")
# several "name : text" entries on one line, separated by two or more spaces
_ENTRY_SPLIT = re.compile(r"\s{2,}(?=[A-Za-z_]\w*(?:\s*,\s*\w+)*\s+:\s)")


def field_docs(cls: type) -> Dict[str, str]:
    """Each field's description from the class docstring, as one line.

    Reads a numpydoc ``Attributes`` (or ``Parameters``) section in either form the project uses:
    ``name : type`` with the description indented below, or ``name : description`` on one line
    (``a, b : ...`` documents both). A field the section does not describe gets the docstring's sentences
    that mention it as ````name````.
    """
    doc = cls.__doc__ or ""
    lines = doc.expandtabs().splitlines()
    entries: List[Tuple[List[str], str, List[str]]] = []  # (names, text after the colon, indented lines)
    inside = False
    base_indent = 0
    for i, line in enumerate(lines):
        stripped = line.strip()
        following = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if following and set(following) == {"-"}:  # a numpydoc section heading
            inside = stripped in ("Attributes", "Parameters")
            base_indent = len(line) - len(line.lstrip())
            continue
        if not inside or not stripped or set(stripped) == {"-"}:
            continue
        if len(line) - len(line.lstrip()) > base_indent:
            if entries:
                entries[-1][2].append(stripped)
            continue
        for segment in _ENTRY_SPLIT.split(stripped):
            match = _ENTRY.match(segment.strip())
            if match:
                names = [n.strip() for n in match.group(1).split(",")]
                entries.append((names, (match.group(2) or "").strip(), []))
    docs: Dict[str, str] = {}
    for names, inline, below in entries:
        is_type = bool(below) and len(inline.split()) <= 4 and not inline.endswith(".")
        text = " ".join(below) if is_type else " ".join([inline] + below)
        for name in names:
            docs[name] = text.strip()
    prose = " ".join(line.strip() for line in lines)
    for f in dataclasses.fields(cls):
        if not docs.get(f.name):
            sentences = [s for s in re.split(r"(?<=[.;])\s+", prose) if f"``{f.name}``" in s]
            if sentences:
                docs[f.name] = " ".join(sentences)
    return docs


def _sections(obj: Any, path: Tuple[str, ...] = ()) -> Iterator[Tuple[Tuple[str, ...], Any]]:
    """(path, settings) for every section and subtable, parents first."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            yield path + (f.name,), value
            yield from _sections(value, path + (f.name,))


def _scalar_fields(settings: Any) -> Iterator[Tuple[str, Any, Any, bool]]:
    """(key, default, type hint, is_computed) for every key of one section that is not itself a subtable.

    ``is_computed``: a scalar default made by a factory (e.g. ``[mqtt] device_id`` from the host name), which
    differs from one machine to the next and so is not written into the example as a value.
    """
    hints = typing.get_type_hints(type(settings))
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if f.init and not (dataclasses.is_dataclass(value) and not isinstance(value, type)):
            is_computed = f.default_factory is not dataclasses.MISSING and \
                isinstance(value, (str, int, float, bool))
            yield f.name, value, hints.get(f.name, Any), is_computed


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
    return [prefix + line for line in textwrap.wrap(text, width - len(prefix))]


def example_toml(config: Any) -> str:
    """The commented example: every section and key at its default, described from the docstrings.

    A settings class used for several subtables (the buzzer patterns) is described once, at its first use.
    """
    from ..toml_settings import describe_type

    out = [HEADER]
    described_at: Dict[type, str] = {}  # class -> the subtable where it was described
    for path, settings in _sections(config):
        cls = type(settings)
        summary = _plain(_summary(cls))
        out.append("")
        if cls in described_at:
            out += _wrap(f"Like [{described_at[cls]}].") if len(path) > 1 else []
            out.append(f"[{'.'.join(path)}]")
            out += [_key_line(key, default, is_computed)
                    for key, default, _hint, is_computed in _scalar_fields(settings)]
            continue
        described_at[cls] = ".".join(path)
        out += _wrap(summary)
        out.append(f"[{'.'.join(path)}]")
        docs = field_docs(cls)
        for key, default, hint, is_computed in _scalar_fields(settings):
            description = _plain(docs.get(key, ""))
            if description == summary:  # the class summary already says it, just above
                description = ""
            if description and not description.endswith((".", ";", ":", "!", "?")):
                description += "."
            out.append("")
            out += _wrap(f"{description} Type: {describe_type(hint)}.".strip())
            out.append(_key_line(key, default, is_computed))
    return "\n".join(out).rstrip() + "\n"


def _key_line(key: str, default: Any, is_computed: bool) -> str:
    from ..toml_settings import toml_value

    if is_computed:
        return f"#{key} =    (not set: computed on the device)"
    if default is None:
        return f"#{key} =    (not set by default)"
    return f"{key} = {toml_value(default, key)}"


def markdown_reference(config: Any) -> str:
    """docs/config.md's key reference: one table per section."""
    from ..toml_settings import describe_type, toml_value

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
            for key, default, hint, is_computed in rows:
                if is_computed or default is None:
                    shown = "(computed)" if is_computed else "(not set)"
                else:
                    shown = f"`{toml_value(default, key)}`"
                description = _md(docs.get(key, ""))
                out.append(f"| `{key}` | {shown} | {describe_type(hint)} | {description} |")
            out.append("")
    return "\n".join(out).rstrip() + "\n"
