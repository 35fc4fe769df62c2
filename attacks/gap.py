"""The gap attack: an example is a member if the target classifies it correctly (Yeom et al., CSF 2018).

Its AUC is (1 + train accuracy - test accuracy) / 2: the generalization gap, seen
through the predicted label alone.
"""

from dataclasses import dataclass

import numpy as np

from miabench.attacks.common import TargetStatistic
from miabench.registry import attacks


@attacks.register("gap")
@dataclass
class Gap(TargetStatistic):
    description = "label only: correctly classified means member"
    citation = ("yeom2018privacy",)
    access = "label"

    def statistic(self, outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return (outputs[:, :, 0].argmax(axis=-1) == labels).astype(np.float64)  # [K, N]: 1 when correct
