"""Registries of tasks, attacks and defenses.

Built-ins register with a decorator when their package is imported; third-party
packages publish Python entry points in the groups ``miabench.tasks``,
``miabench.attacks`` and ``miabench.defenses`` (name = component name, value =
``module:Class``), loaded the first time a registry is read.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from importlib.metadata import entry_points

from miabench.errors import UserError
from miabench.params import build


@dataclasses.dataclass(frozen=True)
class Entry:
    name: str
    component_class: type
    preset: dict  # parameter defaults that distinguish a named variant, e.g. lira-offline


class Registry:
    def __init__(self, kind: str, builtin_package: str, entry_point_group: str):
        self.kind = kind
        self._builtin_package = builtin_package
        self._group = entry_point_group
        self._entries: dict[str, Entry] = {}
        self._loaded = False

    def register(self, name: str, **preset):
        """Class decorator: ``@attacks.register("lira-offline", online=False)``."""

        def decorate(component_class):
            self._add(Entry(name, component_class, preset))
            return component_class

        return decorate

    def _add(self, entry: Entry) -> None:
        existing = self._entries.get(entry.name)
        if existing is not None and existing != entry:
            raise ValueError(
                f"two {self.kind}s are registered as '{entry.name}' "
                f"({existing.component_class.__module__} and {entry.component_class.__module__}); rename one"
            )
        self._entries[entry.name] = entry

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        importlib.import_module(self._builtin_package)
        for point in entry_points(group=self._group):
            component_class = point.load()  # importing may register it through the decorator
            if point.name not in self._entries:
                self._add(Entry(point.name, component_class, {}))
            elif self._entries[point.name].component_class is not component_class:
                raise ValueError(
                    f"entry point '{point.name}' in group {self._group} clashes with the {self.kind} "
                    f"already registered under that name; rename one"
                )

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def entry(self, name: str) -> Entry:
        self._load()
        if name not in self._entries:
            close = difflib.get_close_matches(name, self._entries, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise UserError(f"unknown {self.kind} '{name}': {hint}run 'miabench list {self.kind}s' to see them all")
        return self._entries[name]

    def create(self, name: str, params: dict | None = None):
        """An instance of the component ``name`` with its preset and ``params`` applied."""
        entry = self.entry(name)
        instance = build(entry.component_class, name, self.kind, {**entry.preset, **(params or {})})
        instance.name = name
        return instance


tasks = Registry("task", "miabench.tasks", "miabench.tasks")
attacks = Registry("attack", "miabench.attacks", "miabench.attacks")
defenses = Registry("defense", "miabench.defenses", "miabench.defenses")
