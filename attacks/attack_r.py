"""Attack-R: per-example thresholds from reference models (Ye et al., CCS 2022).

For each example x, the losses on x of the reference models that did not train on it
(OUT on x) are the distribution of a non-member's loss; at FPR alpha, the attack says
"member" when the target's loss on x lies below their alpha-percentile. As one score for a
whole ROC, x scores 1 - alpha*(x), where alpha*(x) is the percentile level at which the
threshold equals the target's loss: every threshold decision is a cut of this score. The
loss is the cross-entropy on the identity view, as in the paper.

How the percentile is read off n OUT losses is ``percentile``:

- ``linear`` (default), the paper's reproduction code (``linear_itp_threshold_func`` in
  ml_privacy_meter's ``research/2022_enhanced_mia``): the n losses with two dummy losses,
  0 and 1000 (``signal_min``, ``signal_max``), linearly interpolated (``np.quantile``'s
  default). The score is continuous, so low FPRs are reachable with few references.
- ``lower``: ml_privacy_meter's reference attack, ``np.quantile(losses, alpha,
  interpolation="lower")`` and "member" when the loss is strictly below it. The score is
  then the fraction of OUT losses above the target's (an equal loss counts against
  membership), with n + 1 levels: with 7 OUT references (K = 16) one non-member in 8 ties
  at the lowest, so nothing below 12.5% FPR is reachable. Where every challenge example has
  the same n (the paired plan), each of the reference code's decisions is a cut of it.
"""

from dataclasses import dataclass

import numpy as np

from miabench.api import Attack, AttackView, ThreatModel
from miabench.attacks.common import out_mean, true_class_log_prob
from miabench.params import param
from miabench.registry import attacks

DUMMY_LOSSES = (0.0, 1000.0)  # the reproduction code's signal_min and signal_max, added to every example's list


def linear_level(target: np.ndarray, references: np.ndarray, out: np.ndarray) -> np.ndarray:
    """[N] alpha*: the level of the linearly interpolated quantile of each example's OUT losses and the two
    dummy losses at which the quantile equals the target's loss (the inverse of ``np.quantile(..., alpha)``)."""
    low, high = DUMMY_LOSSES
    loss = np.clip(target, low, high)
    ordered = np.sort(np.where(out, references, np.inf), axis=0)  # [R, N]: the OUT losses first, ascending
    count = out.sum(axis=0)  # n per example
    below = (ordered < loss).sum(axis=0)  # the OUT losses under the target's: its place j among them
    columns = np.arange(len(loss))
    lower = np.where(below > 0, ordered[np.maximum(below - 1, 0), columns], low)
    upper = np.where(below < count, ordered[np.minimum(below, len(ordered) - 1), columns], high)
    width = upper - lower
    step = np.divide(loss - lower, width, out=np.zeros_like(loss), where=width > 0)
    return (below + step) / (count + 1)  # n + 2 values: positions 0 .. n + 1


@attacks.register("attack-r")
@dataclass
class AttackR(Attack):
    percentile: str = param("linear", "how the alpha-percentile of the OUT losses is read: the paper's code "
                            "interpolates linearly (with dummy losses 0 and 1000), 'lower' takes an order statistic",
                            choices=("linear", "lower"))  # fmt: skip

    description = "Attack-R: the target's loss against the OUT reference models' losses on the same example"
    citation = ("ye2022enhanced",)

    def threat_model(self) -> ThreatModel:
        # With the paired plan, K - 2 >= 2 references hold each challenge example OUT at least once.
        return ThreatModel(access="scores", min_references=2)

    def statistic(self, outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return -true_class_log_prob(outputs[:, :, :1], labels)[:, :, 0]  # the loss on the identity view, [K, N]

    def score(self, view: AttackView) -> np.ndarray:
        above = view.references > view.target  # [R, N]: the reference's loss is above the target's
        share_above = out_mean(above, view.reference_members, ~view.auxiliary, self.name)  # refuses a missing OUT
        if self.percentile == "lower":
            return share_above
        return 1.0 - linear_level(view.target, view.references, ~view.reference_members)
