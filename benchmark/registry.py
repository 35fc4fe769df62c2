"""Registries of tasks, attacks and defenses.

Built-ins register with a decorator when their module is imported; each registry
imports every module of its built-in package the first time it is read (a module
dropped into ``attacks/`` registers itself). Third-party packages publish Python
entry points in the groups ``miabench.tasks``, ``miabench.attacks`` and
``miabench.defenses`` (name = component name, value = ``module:Class``); the
distribution and version that installed each is kept (``Registry.package``), so a
record names the package of a third-party attack.
Modules keep heavy dependencies (opacus, scikit-learn, transformers, ...) inside the
functions that use them, so reading a registry stays fast.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import pkgutil
from importlib.metadata import entry_points

from miabench import api
from miabench.errors import UserError
from miabench.params import ParameterError, build


@dataclasses.dataclass(frozen=True)
class Entry:
    name: str
    component_class: type
    preset: dict  # parameter defaults that distinguish a named variant, e.g. lira-offline

    @property
    def description(self) -> str:
        """The class's description; a preset variant says what it sets."""
        text = self.component_class.description
        if self.preset:
            text += " (" + ", ".join(f"{key}={value}" for key, value in self.preset.items()) + ")"
        return text


class Registry:
    def __init__(self, kind: str, base: type, builtin_package: str, entry_point_group: str):
        self.kind = kind
        self.base = base
        self._builtin_package = builtin_package
        self._group = entry_point_group
        self._entries: dict[str, Entry] = {}
        self._packages: dict[type, tuple[str, str]] = {}  # class -> (distribution, version), for entry points
        self._loaded = False

    def register(self, name: str, **preset):
        """Class decorator: ``@attacks.register("lira-offline", online=False)``."""

        def decorate(component_class):
            self._add(Entry(name, component_class, preset))
            if "name" not in vars(component_class):  # the first name it registers under
                component_class.name = name
            return component_class

        return decorate

    def _add(self, entry: Entry) -> None:
        cls = entry.component_class
        if not (isinstance(cls, type) and issubclass(cls, self.base) and dataclasses.is_dataclass(cls)):
            raise TypeError(
                f"{self.kind} '{entry.name}' ({cls!r}) must be a dataclass subclassing miabench.api.{self.base.__name__}"
            )
        existing = self._entries.get(entry.name)
        if existing is not None and existing != entry:
            raise ValueError(
                f"two {self.kind}s are registered as '{entry.name}' "
                f"({existing.component_class.__module__} and {cls.__module__}); rename one"
            )
        self._entries[entry.name] = entry

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        package = importlib.import_module(self._builtin_package)
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{self._builtin_package}.{module.name}")
        for point in entry_points(group=self._group):
            component_class = point.load()  # importing may register it through the decorator
            dist = getattr(point, "dist", None)  # None for an entry point of no installed distribution
            if dist is not None:
                self._packages[component_class] = (dist.name, dist.version)
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

    def package(self, name: str) -> tuple[str, str] | None:
        """The (distribution, version) that installed the component ``name`` through an entry point, or None for
        a built-in (or one registered by importing its module)."""
        return self._packages.get(self.entry(name).component_class)

    def create(self, name: str, params: dict | None = None):
        """An instance of the component ``name`` with its preset and ``params`` (strings or typed) applied."""
        entry = self.entry(name)
        try:
            instance = build(entry.component_class, {**entry.preset, **(params or {})})
        except ParameterError as error:
            raise UserError(f"{self.kind} '{name}' {error}") from None
        instance.name = name
        return instance


tasks = Registry("task", api.Task, "miabench.tasks", "miabench.tasks")
attacks = Registry("attack", api.Attack, "miabench.attacks", "miabench.attacks")
defenses = Registry("defense", api.Defense, "miabench.defenses", "miabench.defenses")
