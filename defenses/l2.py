"""L2 regularisation (weight decay): penalises large weights, which limits memorisation."""

import dataclasses
from dataclasses import dataclass

from miabench.api import Defense, Recipe
from miabench.params import param
from miabench.registry import defenses


@defenses.register("l2")
@dataclass
class L2(Defense):
    weight_decay: float = param(5e-3, "the optimizer's weight decay", within="[0, inf)")

    description = "weight decay in the optimizer, which penalises large weights"
    citation = ("shokri2017membership",)

    def training_recipe(self, recipe: Recipe) -> Recipe:
        return dataclasses.replace(recipe, weight_decay=self.weight_decay)
