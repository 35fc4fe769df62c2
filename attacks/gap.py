"""The gap attack: an example is a member if the target classifies it correctly (Yeom et al., CSF 2018).

Its AUC is (1 + train accuracy - test accuracy) / 2: the generalization gap, seen
through the predicted label alone.
"""

from dataclasses import dataclass

import numpy as np

from miabench.api import Attack, AttackView, ThreatModel
from miabench.registry import attacks


@attacks.register("gap")
@dataclass
class Gap(Attack):
    citation = """@inproceedings{yeom2018privacy,
  title={Privacy Risk in Machine Learning: Analyzing the Connection to Overfitting},
  author={Yeom, Samuel and Giacomelli, Irene and Fredrikson, Matt and Jha, Somesh},
  booktitle={IEEE Computer Security Foundations Symposium (CSF)},
  year={2018}
}"""

    def threat_model(self) -> ThreatModel:
        return ThreatModel(access="label")

    def statistic(self, outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return (outputs[:, :, 0].argmax(axis=-1) == labels).astype(np.float64)  # [K, N]: 1 when correct

    def score(self, view: AttackView) -> np.ndarray:
        return view.target
