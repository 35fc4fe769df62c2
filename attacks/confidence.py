"""Confidence: members get a higher probability on their true class (Salem et al., NDSS 2019)."""

from dataclasses import dataclass

import numpy as np

from miabench.api import Attack, AttackView, ThreatModel
from miabench.attacks.common import true_class_log_prob
from miabench.registry import attacks


@attacks.register("confidence")
@dataclass
class Confidence(Attack):
    citation = """@inproceedings{salem2019mlleaks,
  title={{ML-Leaks}: Model and Data Independent Membership Inference Attacks and Defenses on Machine Learning Models},
  author={Salem, Ahmed and Zhang, Yang and Humbert, Mathias and Berrang, Pascal and Fritz, Mario and Backes, Michael},
  booktitle={Network and Distributed System Security Symposium (NDSS)},
  year={2019}
}"""

    def threat_model(self) -> ThreatModel:
        return ThreatModel(access="scores")

    def statistic(self, outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return np.exp(true_class_log_prob(outputs[:, :, :1], labels)[:, :, 0])  # p_y on the identity view, [K, N]

    def score(self, view: AttackView) -> np.ndarray:
        return view.target
