"""L2 regularisation (weight decay): penalises large weights, which limits memorisation."""

import dataclasses
from dataclasses import dataclass

from miabench.api import Defense, Recipe
from miabench.defenses.citations import SHOKRI_2017
from miabench.errors import UserError
from miabench.registry import defenses


@defenses.register("l2")
@dataclass
class L2(Defense):
    weight_decay: float = 5e-3

    citation = SHOKRI_2017

    def __post_init__(self):
        if self.weight_decay < 0:
            raise UserError(f"defense 'l2': weight_decay = {self.weight_decay} must be >= 0")

    def training_recipe(self, recipe: Recipe) -> Recipe:
        return dataclasses.replace(recipe, weight_decay=self.weight_decay)
