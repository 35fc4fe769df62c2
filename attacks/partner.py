"""Partner: the log-ratio of the target's probability of the true label to its pair partner's
(Hughes et al., 2026).

In the paper two models, A and B, train on disjoint halves of the data and each is the other's
only reference: a candidate that A gives a higher probability than B is more likely A's member.
On miabench's paired plan every target has such a partner (models 2j and 2j + 1 split the
challenge examples); this attack sees the partner's outputs, which the references leave out,
and never its membership (the complement of the target's).
"""

from dataclasses import dataclass

import numpy as np

from miabench.api import Attack, AttackView, ThreatModel
from miabench.attacks.common import true_class_log_prob
from miabench.errors import UserError
from miabench.registry import attacks


@attacks.register("partner")
@dataclass
class Partner(Attack):
    description = "log p(true label) on the target minus on its pair partner (the model trained on the other half)"
    citation = ("hughes2026boundary",)

    def threat_model(self) -> ThreatModel:
        return ThreatModel(access="scores", partner=True)

    def statistic(self, outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return true_class_log_prob(outputs[:, :, :1], labels)[:, :, 0]  # log p_y on the identity view, [K, N]

    def score(self, view: AttackView) -> np.ndarray:
        if view.partner is None:
            raise UserError("attack 'partner' needs the target's pair partner's outputs, which this harness did "
                            "not give; score it with miabench's scoring.leave_one_out on a paired plan")  # fmt: skip
        return view.target - view.partner
