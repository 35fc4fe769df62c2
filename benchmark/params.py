"""Typed parameters of tasks, attacks and defenses, parsed from ``--param key=value``.

A component declares its parameters as dataclass fields with defaults; this module
converts command-line strings to the field types and rejects unknown keys.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing

from miabench.errors import UserError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def declared(component_class) -> dict[str, dataclasses.Field]:
    """The parameters a component class declares: its public dataclass fields."""
    return {f.name: f for f in dataclasses.fields(component_class) if not f.name.startswith("_")}


def _field_type(component_class, name):
    hints = typing.get_type_hints(component_class)
    hint = hints[name]
    # `float | None` and friends: parse as the non-None member.
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = members[0]
    return hint


def convert(value, kind, where: str):
    """Convert one value (a string from the CLI, or already typed) to ``kind``."""
    if not isinstance(value, str) or kind is str:
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value
    text = value.strip()
    if text.lower() in ("none", "null"):
        return None
    try:
        if kind is bool:
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError(text)
        return kind(text)
    except ValueError:
        raise UserError(f"{where}: cannot read {value!r} as {kind.__name__}; give a valid {kind.__name__}") from None


def build(component_class, name: str, kind: str, values: dict):
    """Instantiate ``component_class`` with typed ``values``; unknown keys are an error."""
    fields = declared(component_class)
    unknown = sorted(set(values) - set(fields))
    if unknown:
        key = unknown[0]
        hint = difflib.get_close_matches(key, fields, n=1)
        takes = ", ".join(fields) or "no parameters"
        suggestion = f"did you mean '{hint[0]}'? " if hint else ""
        raise UserError(f"{kind} '{name}' has no parameter '{key}': {suggestion}it takes: {takes}")
    typed = {
        k: convert(v, _field_type(component_class, k), f"{kind} '{name}' parameter '{k}'") for k, v in values.items()
    }
    return component_class(**typed)


def parse_assignments(items: list[str]) -> dict[str, str]:
    """``["a=1", "lira.online=false"]`` -> ``{"a": "1", "lira.online": "false"}``."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--param {item!r} is not of the form key=value; write e.g. --param weight_decay=0.001")
        out[key.strip()] = value.strip()
    return out


def route(assignments: dict[str, str], components: dict[str, type]) -> dict[str, dict[str, str]]:
    """Send each ``key=value`` to the components that declare ``key``.

    ``components`` maps a component's name (e.g. ``lira``) to its class. A key may be
    qualified as ``name.key`` to address one component; an unqualified key goes to
    every component that declares it, and a key no component declares is an error.
    """
    routed: dict[str, dict[str, str]] = {name: {} for name in components}
    for key, value in assignments.items():
        owner, dot, bare = key.rpartition(".")
        if dot and owner in components:
            targets = [owner]
            if bare not in declared(components[owner]):
                raise UserError(
                    f"'{owner}' has no parameter '{bare}': it takes: {', '.join(declared(components[owner])) or 'no parameters'}"
                )
        else:
            bare = key
            targets = [name for name, cls in components.items() if bare in declared(cls)]
            if not targets:
                everything = sorted({p for cls in components.values() for p in declared(cls)})
                hint = difflib.get_close_matches(bare, everything, n=1)
                suggestion = f"did you mean '{hint[0]}'? " if hint else ""
                raise UserError(
                    f"no selected component takes parameter '{bare}': {suggestion}"
                    f"run 'miabench list' to see each component's parameters"
                )
        for name in targets:
            routed[name][bare] = value
    return routed
