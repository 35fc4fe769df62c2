"""No defense: the task's pinned recipe, unchanged outputs."""

from dataclasses import dataclass

from miabench.api import Defense
from miabench.registry import defenses


@defenses.register("none")
@dataclass
class NoDefense(Defense):
    description = "the task's pinned recipe, outputs served unchanged"
