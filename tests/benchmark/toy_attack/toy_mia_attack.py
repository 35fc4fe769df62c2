"""A toy third-party attack: the margin between the target's two largest logits (members' is wider)."""

from dataclasses import dataclass

import numpy as np

from miabench.api import Attack, ThreatModel


@dataclass
class MarginAttack(Attack):
    description = "a toy installed attack: the target's top-two logit margin"

    def threat_model(self) -> ThreatModel:
        return ThreatModel(access="logits", min_references=0)

    def score(self, view) -> np.ndarray:
        top = np.sort(view.target[:, 0], axis=-1)
        return top[:, -1] - top[:, -2]
