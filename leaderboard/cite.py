"""The BibTeX to cite for a run: miabench itself, then the task, attack and defense it used.

``bibtex(task=..., attack=..., defense=...)`` gives miabench's own entry followed by the
named components' citations, in that order, each BibTeX key once (the first seen wins; keys
compare case-insensitively, as BibTeX does). With no names it gives every registered
component's citations, sorted by key after miabench's. A component named explicitly that
records no citation gets a BibTeX comment line saying so; unnamed ones are skipped silently.
"""

from __future__ import annotations

from miabench.leaderboard.build import MIABENCH_BIBTEX, bib_entries
from miabench.registry import attacks, defenses, tasks


def _citation(kind: str, name: str) -> str:
    """The citation string recorded for the component ``name`` of ``kind`` (``UserError`` if unknown)."""
    if kind == "task":
        metadata = getattr(tasks.entry(name).component_class, "metadata", None)
        return getattr(metadata, "citation", "") or ""
    registry = attacks if kind == "attack" else defenses
    return getattr(registry.entry(name).component_class, "citation", "") or ""


def bibtex(task: str | None = None, attack: str | None = None, defense: str | None = None) -> str:
    """BibTeX for miabench plus the named components (or, with none named, every registered one)."""
    named = [(kind, name) for kind, name in (("task", task), ("attack", attack), ("defense", defense)) if name]
    # Resolve every name first, so an unknown one raises before any output is assembled.
    cited = [(kind, name, _citation(kind, name)) for kind, name in named]

    seen = {key.lower() for key, _ in bib_entries(MIABENCH_BIBTEX)}
    blocks = [MIABENCH_BIBTEX]
    if named:
        for kind, name, citation in cited:
            entries = bib_entries(citation)
            if not entries:
                blocks.append(f"% {kind} '{name}': no citation recorded")
            for key, entry in entries:
                if key.lower() not in seen:
                    seen.add(key.lower())
                    blocks.append(entry)
    else:
        by_key: dict[str, str] = {}
        for kind, registry in (("task", tasks), ("attack", attacks), ("defense", defenses)):
            for name in registry.names():
                for key, entry in bib_entries(_citation(kind, name)):
                    if key.lower() not in seen:
                        by_key.setdefault(key.lower(), entry)
        blocks += [by_key[key] for key in sorted(by_key)]
    return "\n\n".join(blocks) + "\n"
