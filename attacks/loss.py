"""LOSS: members have lower loss (Yeom et al., CSF 2018)."""

from dataclasses import dataclass

import numpy as np

from miabench.attacks.common import YEOM, TargetStatistic, true_class_log_prob
from miabench.registry import attacks


@attacks.register("loss")
@dataclass
class Loss(TargetStatistic):
    citation = YEOM

    def statistic(self, outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return true_class_log_prob(outputs[:, :, :1], labels)[:, :, 0]  # minus the loss on the identity view
