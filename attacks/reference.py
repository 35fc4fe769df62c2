"""Difficulty calibration (Watson et al., ICLR 2022).

The target's log p_y (minus its loss), averaged over views, less its mean over the
reference models that did not train on the example: how much easier the target
finds the example than models that never saw it. (Ye et al.'s Attack-R, which
thresholds the loss at a percentile of those references' losses instead, is
``attack-r``.)
"""

from dataclasses import dataclass

import numpy as np

from miabench.api import Attack, AttackView, ThreatModel
from miabench.attacks.common import out_mean, true_class_log_prob
from miabench.registry import attacks


@attacks.register("reference")
@dataclass
class Reference(Attack):
    description = "difficulty calibration: the target's loss less the OUT reference models' mean loss on the example"
    citation = ("watson2022importance",)

    def threat_model(self) -> ThreatModel:
        # With the paired plan, K - 2 >= 2 references hold each challenge example OUT at least once.
        return ThreatModel(access="scores", min_references=2)

    def statistic(self, outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return true_class_log_prob(outputs, labels).mean(axis=-1)  # [K, N]

    def score(self, view: AttackView) -> np.ndarray:
        return view.target - out_mean(view.references, view.reference_members, ~view.auxiliary, self.name)
