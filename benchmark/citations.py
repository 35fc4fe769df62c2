"""The one store of BibTeX entries: ``citations.bib`` beside this module, each entry once.

Tasks, attacks, defenses and result records cite papers by key; this module turns
keys back into BibTeX. A third-party package adds its own entries with :func:`add`
when it is imported (before its components register).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from pathlib import Path

from miabench.errors import UserError

STORE = Path(__file__).with_name("citations.bib")
MIABENCH = "miabench"  # the benchmark's own entry, cited first

_START = re.compile(r"^\s*@", re.MULTILINE)
_KEY = re.compile(r"@\s*\w+\s*\{\s*([^,\s]+)\s*,")


def split(text: str) -> list[tuple[str, str]]:
    """(key, entry) for each BibTeX entry in ``text``; an entry starts with ``@`` at the start of a line."""
    starts = [match.start() for match in _START.finditer(text)]
    found = []
    for start, end in zip(starts, starts[1:] + [len(text)]):
        chunk = text[start:end].strip()
        match = _KEY.match(chunk)
        if match:
            found.append((match.group(1), chunk))
    return found


@functools.cache
def entries() -> dict[str, str]:
    """Every stored entry by key (the dict is the store: :func:`add` extends it)."""
    store: dict[str, str] = {}
    for key, entry in split(STORE.read_text(encoding="utf-8")):
        if key in store:
            raise ValueError(f"{STORE}: key {key} appears twice; keep one entry per paper")
        store[key] = entry
    return store


def add(bibtex: str) -> list[str]:
    """Add entries (e.g. a plugin's papers); a key already stored must come with the same entry."""
    added = []
    for key, entry in split(bibtex):
        if entries().setdefault(key, entry) != entry:
            raise ValueError(f"citation key {key} is already stored with another entry; choose another key")
        added.append(key)
    return added


def entry(key: str) -> str:
    try:
        return entries()[key]
    except KeyError:
        raise UserError(f"no citation '{key}' in {STORE.name}: add its BibTeX there (or with citations.add)") from None


def bibtex(keys: Iterable[str], first: tuple[str, ...] = (MIABENCH,)) -> str:
    """The entries of ``first`` then of ``keys``, each once, in order; unknown keys become comments."""
    seen, blocks = set(), []
    for key in [*first, *keys]:
        if key in seen:
            continue
        seen.add(key)
        blocks.append(entries().get(key, f"% no citation stored under the key '{key}'"))
    return "\n\n".join(blocks) + "\n"
