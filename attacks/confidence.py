"""Confidence: members get a higher probability on their true class (Salem et al., NDSS 2019)."""

from dataclasses import dataclass

import numpy as np

from miabench.attacks.common import TargetStatistic, true_class_log_prob
from miabench.registry import attacks


@attacks.register("confidence")
@dataclass
class Confidence(TargetStatistic):
    description = "higher probability of the true class means member"
    citation = ("salem2019mlleaks",)

    def statistic(self, outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return np.exp(true_class_log_prob(outputs[:, :, :1], labels)[:, :, 0])  # p_y on the identity view, [K, N]
