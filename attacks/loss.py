"""LOSS: members have lower loss (Yeom et al., CSF 2018)."""

from dataclasses import dataclass

import numpy as np

from miabench.api import Attack, AttackView, ThreatModel
from miabench.registry import attacks


def true_class_log_prob(log_probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``log p_y`` from log-probabilities ``[N, ..., C]`` and labels ``[N]``: shape ``[N, ...]``."""
    index = labels.reshape(labels.shape + (1,) * (log_probs.ndim - 1))
    return np.take_along_axis(log_probs, index, axis=-1)[..., 0]


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

    def score(self, view: AttackView) -> np.ndarray:
        # Minus the cross-entropy on the un-augmented view.
        return true_class_log_prob(view.target[:, 0], view.labels)
