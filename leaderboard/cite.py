"""The BibTeX to cite for a run: miabench itself, then the task, attack and defense it used.

``bibtex(task=..., attack=..., defense=...)`` gives miabench's own entry followed by the
named components' citations, in that order, each entry once (from :mod:`miabench.citations`).
With no names it gives every registered component's citations, sorted by key after
miabench's. A component named explicitly that cites nothing gets a BibTeX comment line
saying so.
"""

from __future__ import annotations

from miabench import citations
from miabench.registry import attacks, defenses, tasks


def keys_of(kind: str, name: str) -> tuple[str, ...]:
    """The citation keys of the component ``name`` of ``kind`` (``UserError`` if unknown)."""
    if kind == "task":
        return tasks.entry(name).component_class.metadata.citation
    registry = attacks if kind == "attack" else defenses
    return registry.entry(name).component_class.citation


def bibtex(task: str | None = None, attack: str | None = None, defense: str | None = None) -> str:
    """BibTeX for miabench plus the named components (or, with none named, every registered one)."""
    named = [(kind, name) for kind, name in (("task", task), ("attack", attack), ("defense", defense)) if name]
    cited = [(kind, name, keys_of(kind, name)) for kind, name in named]  # an unknown name raises before output
    if not named:
        every = {key for kind, registry in (("task", tasks), ("attack", attacks), ("defense", defenses))
                 for name in registry.names() for key in keys_of(kind, name)}  # fmt: skip
        return citations.bibtex(sorted(every))
    text = citations.bibtex(key for _, _, keys in cited for key in keys)
    silent = [f"% {kind} '{name}': no citation recorded" for kind, name, keys in cited if not keys]
    return text + "".join(f"\n{line}\n" for line in silent)
