"""LiRA: the likelihood-ratio attack (Carlini et al., S&P 2022).

The statistic is the logit-scaled confidence phi = log p_y - log sum_{y' != y} p_y'.
For each example and view, Gaussians are fitted to phi over the reference models
that trained on it (IN) and those that did not (OUT). Online LiRA scores the
likelihood ratio IN/OUT; offline LiRA scores how far phi lies above the OUT
distribution (one-sided). Scores are averaged over the task's views.
"""

from dataclasses import dataclass

import numpy as np

from miabench.api import Attack, AttackView, ThreatModel
from miabench.attacks.common import logit_scaled_confidence
from miabench.errors import UserError
from miabench.params import param
from miabench.registry import attacks

MIN_STD = 1e-6  # keeps a degenerate (all-equal) reference distribution finite


def gaussian(phi: np.ndarray, mask: np.ndarray, fixed_variance: bool, needed: np.ndarray, side: str):
    """Mean and std over references where ``mask`` ([R, N, 1]) holds; ``phi`` is [R, N, A].

    Every example in ``needed`` ([N] bool) must have at least one such reference.
    """
    count = mask.sum(axis=0)  # [N, 1]
    if (count[needed] == 0).any():
        raise UserError(
            f"LiRA needs at least one {side} reference model for every challenge example, but "
            f"{int((count[needed] == 0).sum())} have none; use more models (--models) or, for IN, online=false"
        )
    mean = (phi * mask).sum(axis=0) / np.maximum(count, 1)  # examples with no reference get 0, unused
    squares = (((phi - mean) ** 2) * mask).sum(axis=0)
    pooled = np.sqrt(squares.sum(axis=0) / count.sum())  # one std per view, shared by all examples
    if fixed_variance:
        std = np.broadcast_to(pooled, mean.shape)
    else:
        # An example with a single reference on this side has no spread of its own: use the pooled std.
        std = np.where(count >= 2, np.sqrt(squares / np.maximum(count, 1)), pooled)
    return mean, np.maximum(std, MIN_STD)


@attacks.register("lira-offline", online=False)
@attacks.register("lira")
@dataclass
class LiRA(Attack):
    online: bool = param(True, "IN and OUT references (likelihood ratio); false: a one-sided test against OUT")
    fixed_variance: bool = param(False, "one std per view pooled over all examples, not each example's own")

    description = "per-example Gaussian likelihood ratio of the logit-scaled confidence, IN vs OUT references"
    citation = ("carlini2022membership",)

    def threat_model(self) -> ThreatModel:
        # With the paired plan, K - 2 >= 2 references hold each example IN once and OUT once at least.
        return ThreatModel(access="scores", min_references=2, online=self.online)

    def statistic(self, outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return logit_scaled_confidence(outputs, labels)  # [K, N, A]

    def score(self, view: AttackView) -> np.ndarray:
        from scipy.stats import norm  # imported here: scipy.stats adds half a second to every start

        target, references = view.target, view.references  # [N, A], [R, N, A]
        is_in = view.reference_members[:, :, None]
        challenge = ~view.auxiliary  # auxiliary examples are never IN; they are not scored
        mean_out, std_out = gaussian(references, ~is_in, self.fixed_variance, challenge, "OUT")
        if self.online:
            mean_in, std_in = gaussian(references, is_in, self.fixed_variance, challenge, "IN")
            ratio = norm.logpdf(target, mean_in, std_in) - norm.logpdf(target, mean_out, std_out)
        else:
            ratio = -norm.logsf(target, mean_out, std_out)
        return ratio.mean(axis=1)
