"""LOSS: members have lower loss (Yeom et al., CSF 2018)."""

from dataclasses import dataclass

import numpy as np

from miabench.attacks.common import TargetStatistic, true_class_log_prob
from miabench.registry import attacks


@attacks.register("loss")
@dataclass
class Loss(TargetStatistic):
    description = "lower loss means member"
    citation = ("yeom2018privacy",)

    def statistic(self, outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return true_class_log_prob(outputs[:, :, :1], labels)[:, :, 0]  # minus the loss on the identity view
