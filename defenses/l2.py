"""L2 regularisation (weight decay): penalises large weights, which limits memorisation."""

import dataclasses
from dataclasses import dataclass
from types import MappingProxyType

from miabench.api import Defense, Recipe
from miabench.params import param
from miabench.registry import defenses


@defenses.register("l2")
@dataclass
class L2(Defense):
    weight_decay: float = param(5e-3, "the optimizer's weight decay", within="[0, inf)")

    description = "weight decay in the optimizer, which penalises large weights"
    citation = ("shokri2017membership",)
    # A log grid over two decades around the default; Shokri et al. evaluate L2 regularisation as a mitigation.
    grid = MappingProxyType({"weight_decay": (1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2)})

    def training_recipe(self, recipe: Recipe) -> Recipe:
        return dataclasses.replace(recipe, weight_decay=self.weight_decay)
