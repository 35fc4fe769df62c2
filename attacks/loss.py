"""LOSS: members have lower loss (Yeom et al., CSF 2018)."""

from dataclasses import dataclass

import numpy as np

from miabench.api import Attack, AttackView, ThreatModel
from miabench.attacks.common import true_class_log_prob
from miabench.registry import attacks


@attacks.register("loss")
@dataclass
class Loss(Attack):
    citation = """@inproceedings{yeom2018privacy,
  title={Privacy Risk in Machine Learning: Analyzing the Connection to Overfitting},
  author={Yeom, Samuel and Giacomelli, Irene and Fredrikson, Matt and Jha, Somesh},
  booktitle={IEEE Computer Security Foundations Symposium (CSF)},
  year={2018}
}"""

    def threat_model(self) -> ThreatModel:
        return ThreatModel(access="scores")

    def statistic(self, outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return true_class_log_prob(outputs[:, :, :1], labels)[:, :, 0]  # minus the loss on the identity view

    def score(self, view: AttackView) -> np.ndarray:
        return view.target
