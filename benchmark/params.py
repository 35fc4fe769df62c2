"""The parameters of tasks, attacks, defenses and recipes: declared once, checked in one place.

A component's parameters are its public dataclass fields. Each is declared with
:func:`param`, which carries its help text and constraints (an interval or a set
of choices) in the field's metadata; whether ``none`` is allowed follows from the
type (``float | None``). :func:`check` enforces every declaration when a component
is built, with one line naming the parameter, the value and the fix; :func:`convert`
reads command-line strings as the declared types; :func:`route` sends each
``key=value`` to the components that take it.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from dataclasses import dataclass

from miabench.errors import UserError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_NONE = {"none", "null"}


class ParameterError(UserError):
    """A parameter value its declaration refuses; the registry adds which component it belongs to."""

    def __init__(self, name: str, message: str):
        super().__init__(f"parameter '{name}': {message}")
        self.parameter, self.detail = name, message


@dataclass(frozen=True)
class Interval:
    """A range of numbers in interval notation: ``"(0, 1]"``, ``"[1, inf)"``."""

    low: float
    high: float
    low_closed: bool
    high_closed: bool

    @classmethod
    def parse(cls, text: str) -> Interval:
        text = text.strip()
        if text[0] not in "[(" or text[-1] not in "])" or text.count(",") != 1:
            raise ValueError(f"not an interval: {text!r}; write e.g. '(0, 1]' or '[1, inf)'")
        low, high = (float(part) for part in text[1:-1].split(","))
        return cls(low, high, text[0] == "[", text[-1] == "]")

    def __contains__(self, value: float) -> bool:
        above = value >= self.low if self.low_closed else value > self.low
        below = value <= self.high if self.high_closed else value < self.high
        return above and below

    def __str__(self) -> str:
        def bound(value: float) -> str:
            return "inf" if value == math.inf else "-inf" if value == -math.inf else f"{value:g}"

        return (
            f"{'[' if self.low_closed else '('}{bound(self.low)}, {bound(self.high)}{']' if self.high_closed else ')'}"
        )

    @property
    def admits_infinity(self) -> bool:
        return math.inf in self or -math.inf in self


def param(default=dataclasses.MISSING, help: str = "", *, within: str | None = None, choices: tuple | None = None):
    """A parameter field: its default (none: required), one line of help, an interval (``within``) or ``choices``."""
    metadata = {"help": help, "within": Interval.parse(within) if within else None, "choices": choices}
    return dataclasses.field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Declaration:
    """What a component declares of one parameter."""

    name: str
    kind: type  # bool, int, float or str
    optional: bool  # None is a valid value
    default: typing.Any
    help: str
    within: Interval | None
    choices: tuple | None

    @property
    def constraint(self) -> str:
        """The constraint in words, e.g. 'in (0, 1]' or 'one of drop, noise'; '' when there is none."""
        parts = []
        if self.within is not None:
            parts.append(f"in {self.within}")
        if self.choices is not None:
            parts.append("one of " + ", ".join(map(str, self.choices)))
        if self.optional:
            parts.append("or none")
        return " ".join(parts)

    def example(self) -> str:
        """A valid assignment to suggest in an error: the default, or the first choice."""
        value = self.default if self.default not in (None, dataclasses.MISSING) else None
        if value is None and self.choices:
            value = self.choices[0]
        if value is None and self.within is not None:
            value = self.kind(self.within.low if self.within.low_closed else self.within.low + 1)
        return f"{self.name}={'none' if value is None else value}"


def _kind(hint) -> tuple[type, bool]:
    """The parameter type of a field's annotation, and whether it is optional (``X | None``)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = [member for member in typing.get_args(hint) if member is not type(None)]
        return members[0], len(members) < len(typing.get_args(hint))
    return hint, False


def declarations(component_class) -> dict[str, Declaration]:
    """Every public dataclass field of a component class, as declared."""
    hints = typing.get_type_hints(component_class)
    out = {}
    for field in dataclasses.fields(component_class):
        if field.name.startswith("_"):
            continue
        kind, optional = _kind(hints[field.name])
        meta = field.metadata
        out[field.name] = Declaration(
            field.name, kind, optional, field.default, meta.get("help", ""), meta.get("within"), meta.get("choices")
        )
    return out


def declared(component_class) -> list[str]:
    """The names of the parameters a component class takes."""
    return list(declarations(component_class))


def _typed(value, declaration: Declaration):
    """``value`` as the declared type, or a ParameterError: ints are floats too, but bools are not numbers."""
    kind, name = declaration.kind, declaration.name
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise ParameterError(name, f"{value!r} is not {_article(kind)}; give e.g. {declaration.example()}")


def _article(kind: type) -> str:
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(kind, kind.__name__)


def check_value(value, declaration: Declaration):
    """The value, typed, if the declaration admits it; else a ParameterError naming the fix."""
    name = declaration.name
    if value is None:
        if declaration.optional:
            return None
        allowed = f"a value {declaration.constraint}" if declaration.constraint else _article(declaration.kind)
        raise ParameterError(name, f"none is not allowed; give {allowed}, e.g. {declaration.example()}")
    value = _typed(value, declaration)
    infinite_allowed = declaration.within is not None and declaration.within.admits_infinity
    if declaration.kind is float and not math.isfinite(value) and (math.isnan(value) or not infinite_allowed):
        raise ParameterError(name, f"{value} is not a finite number; give e.g. {declaration.example()}")
    if declaration.within is not None and value not in declaration.within:
        raise ParameterError(name, f"{value!r} is not in {declaration.within}; give e.g. {declaration.example()}")
    if declaration.choices is not None and value not in declaration.choices:
        options = ", ".join(map(str, declaration.choices))
        raise ParameterError(name, f"{value!r} is not one of {options}; give e.g. {declaration.example()}")
    return value


def check(instance) -> None:
    """Enforce every parameter declaration of a built component (typed values are written back)."""
    for name, declaration in declarations(type(instance)).items():
        value = check_value(getattr(instance, name), declaration)
        object.__setattr__(instance, name, value)  # also on frozen dataclasses (Recipe): 1 -> 1.0


def convert(value, declaration: Declaration):
    """A command-line string (or an already typed value, e.g. from TOML) as the declared type."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.lower() in _NONE and (declaration.optional or declaration.kind is not str):
        return None  # refused by check() unless the parameter is optional
    if declaration.kind is str:
        return text
    try:
        if declaration.kind is bool:
            if text.lower() in _TRUE | _FALSE:
                return text.lower() in _TRUE
            raise ValueError(text)
        return declaration.kind(text)
    except ValueError:
        raise ParameterError(
            declaration.name,
            f"cannot read {value!r} as {_article(declaration.kind)}; give e.g. {declaration.example()}",
        ) from None


def build(component_class, values: dict):
    """An instance of ``component_class`` from ``values`` (strings or typed); unknown keys are an error."""
    known = declarations(component_class)
    unknown = sorted(set(values) - set(known))
    if unknown:
        key = unknown[0]
        hint = difflib.get_close_matches(key, known, n=1)
        suggestion = f"did you mean '{hint[0]}'? " if hint else ""
        raise ParameterError(key, f"no such parameter: {suggestion}it takes: {', '.join(known) or 'no parameters'}")
    return component_class(**{key: convert(value, known[key]) for key, value in values.items()})


def parse_assignments(items: list[str]) -> dict[str, str]:
    """``["a=1", "lira.online=false"]`` -> ``{"a": "1", "lira.online": "false"}``."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--param {item!r} is not of the form key=value; write e.g. --param weight_decay=0.001")
        out[key.strip()] = value.strip()
    return out


def route(assignments: dict, components: dict[str, type]) -> dict[str, dict]:
    """Send each ``key=value`` to the components that declare ``key``.

    ``components`` maps a component's name (e.g. ``lira``) to its class. A key may be
    qualified as ``name.key`` to address one component; an unqualified key goes to
    every component that declares it, and a key no component declares is an error.
    """
    routed: dict[str, dict] = {name: {} for name in components}
    for key, value in assignments.items():
        owner, dot, bare = key.rpartition(".")
        if dot and owner in components:
            targets = [owner]
            if bare not in declarations(components[owner]):
                takes = ", ".join(declarations(components[owner])) or "no parameters"
                raise UserError(f"'{owner}' has no parameter '{bare}': it takes: {takes}")
        else:
            bare = key
            targets = [name for name, cls in components.items() if bare in declarations(cls)]
            if not targets:
                everything = sorted({p for cls in components.values() for p in declarations(cls)})
                hint = difflib.get_close_matches(bare, everything, n=1)
                suggestion = f"did you mean '{hint[0]}'? " if hint else ""
                raise UserError(
                    f"no selected component takes parameter '{bare}': {suggestion}"
                    f"run 'miabench list' to see each component's parameters"
                )
        for name in targets:
            routed[name][bare] = value
    return routed
