"""Attack-R / difficulty calibration (Watson et al., ICLR 2022).

The target's log p_y (minus its loss), averaged over views, less its mean over the
reference models that did not train on the example: how much easier the target
finds the example than models that never saw it.
"""

from dataclasses import dataclass

import numpy as np

from miabench.api import Attack, AttackView, ThreatModel
from miabench.attacks.common import true_class_log_prob
from miabench.errors import UserError
from miabench.registry import attacks


@attacks.register("reference")
@dataclass
class Reference(Attack):
    citation = """@inproceedings{watson2022importance,
  title={On the Importance of Difficulty Calibration in Membership Inference Attacks},
  author={Watson, Lauren and Guo, Chuan and Cormode, Graham and Sablayrolles, Alexandre},
  booktitle={International Conference on Learning Representations (ICLR)},
  year={2022}
}"""

    def threat_model(self) -> ThreatModel:
        # With the paired plan, K - 2 >= 2 references hold each challenge example OUT at least once.
        return ThreatModel(access="scores", min_references=2)

    def statistic(self, outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return true_class_log_prob(outputs, labels).mean(axis=-1)  # [K, N]

    def score(self, view: AttackView) -> np.ndarray:
        out = ~view.reference_members  # [R, N]
        count = out.sum(axis=0)
        missing = int((count[~view.auxiliary] == 0).sum())
        if missing:
            raise UserError(
                f"attack 'reference' needs at least one reference model that did not train on each challenge "
                f"example, but {missing} have none; use more models (--models)"
            )
        mean_out = (view.references * out).sum(axis=0) / np.maximum(count, 1)
        return view.target - mean_out
