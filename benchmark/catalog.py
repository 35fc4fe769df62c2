"""What the registries hold, as text: ``miabench list`` and ``miabench list NAME``.

Everything shown comes from the components' declarations: their description and citation keys,
a task's metadata, an attack's threat model, and each parameter's default, constraint and help.
"""

from __future__ import annotations

import difflib
import textwrap

from miabench.errors import UserError
from miabench.params import declarations
from miabench.registry import attacks, defenses, tasks

REGISTRIES = {"tasks": tasks, "attacks": attacks, "defenses": defenses}
WIDTH = 100
NAME_WIDTH = 22  # the column of names and parameter assignments


def wrap(text: str, indent: int, first: str = "") -> list[str]:
    """``first`` padded to the indent, then ``text`` wrapped to WIDTH columns under it."""
    prefix = first.ljust(indent) if len(first) < indent else first + " "
    lines = textwrap.wrap(text, WIDTH, initial_indent=prefix, subsequent_indent=" " * indent) or [prefix.rstrip()]
    return lines


def default_text(value) -> str:
    return "none" if value is None else str(value)


def parameter_lines(entry, indent: int = 2) -> list[str]:
    lines = []
    for name, declaration in declarations(entry.component_class).items():
        value = entry.preset.get(name, declaration.default)
        constraint = f" [{declaration.constraint}]" if declaration.constraint else ""
        lines += wrap(
            f"{declaration.help}{constraint}", indent + NAME_WIDTH, " " * indent + f"{name}={default_text(value)}"
        )
    return lines


def needs(name: str) -> str:
    """An attack's threat model in a few words: its access and what the setting must give it."""
    threat = attacks.create(name).threat_model()
    parts = [threat.access] + ([f"{threat.min_references}+ references"] if threat.min_references else [])
    parts += ["online"] * threat.online + ["auxiliary"] * threat.auxiliary
    parts += ["the pair partner's outputs"] * threat.partner
    parts += [f"model {threat.fixed_model}'s outputs for every target"] if threat.fixed_model is not None else []
    parts += [f"{threat.queries} queries"] if threat.queries else []
    return ", ".join(parts)


def grid_text(cls) -> str:
    """A defense's pinned grid in a few words, e.g. ``epsilon in 0.5, 1, 2 (3 settings)``."""
    if not cls.grid:
        return "- (no parameters to vary: one setting)"
    parts = []
    for key, values in cls.grid.items():
        names = ", ".join(key) if isinstance(key, tuple) else key
        shown = [", ".join(map(str, value)) if isinstance(key, tuple) else str(value) for value in values]
        parts.append(f"{'(' + names + ')' if isinstance(key, tuple) else names} in "
                     + ", ".join(f"({v})" if isinstance(key, tuple) else v for v in shown))  # fmt: skip
    return f"{' x '.join(parts)} ({len(cls.grid_settings())} settings: 'miabench run --defense {cls.name} --grid')"


def defense_facts(cls) -> dict:
    """What ``miabench list NAME`` shows of a defense beyond its parameters: its grid and its attack set."""
    from miabench.spec import ATTACK_SETS

    return {"grid": grid_text(cls), "attacked by": f"{', '.join(ATTACK_SETS[cls.serves])} ({cls.serves} served)"}


def summary_line(kind: str, name: str) -> str:
    entry = REGISTRIES[kind].entry(name)
    if kind == "tasks":
        meta = entry.component_class.metadata
        return f"{meta.description} (K={meta.default_models}, {meta.model_family})"
    if kind == "attacks":
        return f"{entry.description} [{needs(name)}]"
    return entry.description


def listing(kind: str | None = None) -> str:
    """Every component of ``kind`` (or of all three kinds), with its parameters."""
    blocks = []
    for name, registry in REGISTRIES.items():
        if kind not in (None, name):
            continue
        lines = [f"{name} ('miabench list NAME' shows one in full):"]
        for component in registry.names():
            lines += wrap(summary_line(name, component), NAME_WIDTH, component)
            lines += parameter_lines(registry.entry(component))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def describe(name: str) -> str:
    """One component in full: description, citation keys, threat model or metadata, parameters."""
    found = [(kind, registry) for kind, registry in REGISTRIES.items() if name in registry.names()]
    if not found:
        every = [component for registry in REGISTRIES.values() for component in registry.names()]
        close = difflib.get_close_matches(name, every, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise UserError(f"no task, attack or defense is named '{name}': {hint}run 'miabench list' to see them all")
    blocks = []
    for kind, registry in found:
        entry = registry.entry(name)
        cls = entry.component_class
        lines = [f"{name} ({kind[:-1]}, {cls.__module__}.{cls.__qualname__})"]
        if kind == "tasks":
            meta = cls.metadata
            lines += wrap(meta.description, 2, "")
            facts = {"version": meta.version, "model family": meta.model_family, "K": meta.default_models,
                     "classes": ", ".join(meta.names), "license": meta.license, "source": meta.source,
                     "revision": meta.revision or "unpinned", "highlighted": ", ".join(meta.highlighted) or "-"}  # fmt: skip
            citation = meta.citation
        else:
            lines += wrap(entry.description, 2, "")
            facts = {"threat model": needs(name)} if kind == "attacks" else {}
            if kind == "defenses":
                facts |= defense_facts(cls)
            citation = cls.citation
        facts["cite"] = ", ".join(citation) or "-"
        lines += [line for key, value in facts.items() for line in wrap(str(value), 2 + NAME_WIDTH, f"  {key}")]
        params = parameter_lines(entry, 4)
        lines += ["  parameters:"] + (params or ["    (none)"])
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
