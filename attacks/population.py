"""Attack-P: per-class thresholds from population data (Ye et al., CCS 2022).

The attacker holds examples known to be in no model (the auxiliary set). For each
class, the target's log p_y on the auxiliary examples of that class is the
distribution of a non-member's; an example scores the fraction of it that lies
below its own log p_y (ties count 1/2). Thresholding this per-class percentile at
1 - alpha is Attack-P's per-class threshold at FPR alpha.
"""

from dataclasses import dataclass

import numpy as np

from miabench.api import Attack, AttackView, ThreatModel
from miabench.attacks.common import true_class_log_prob
from miabench.registry import attacks


def percentile(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The fraction of ``reference`` below each of ``values``, ties counting 1/2."""
    reference = np.sort(reference)
    below = np.searchsorted(reference, values, side="left")
    at_most = np.searchsorted(reference, values, side="right")
    return (below + at_most) / (2 * len(reference))


@attacks.register("population")
@dataclass
class Population(Attack):
    description = "Attack-P: the target's loss against per-class thresholds from known non-members"
    citation = ("ye2022enhanced",)

    def threat_model(self) -> ThreatModel:
        return ThreatModel(access="scores", auxiliary=True)

    def statistic(self, outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return true_class_log_prob(outputs[:, :, :1], labels)[:, :, 0]  # log p_y on the identity view, [K, N]

    def score(self, view: AttackView) -> np.ndarray:
        target, labels, auxiliary = view.target, view.labels, view.auxiliary
        scores = np.empty(len(labels), dtype=np.float64)
        for c in np.unique(labels):
            in_class = labels == c
            reference = target[auxiliary & in_class]
            if reference.size == 0:  # no known non-member of this class: use them all
                reference = target[auxiliary]
            scores[in_class] = percentile(target[in_class], reference)
        return scores
