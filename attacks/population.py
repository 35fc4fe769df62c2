"""Attack-P: per-class thresholds from population data (Ye et al., CCS 2022).

The attacker holds examples known to be in no model (the auxiliary set). For each
class, the target's log p_y on the auxiliary examples of that class is the
distribution of a non-member's; an example scores the fraction of it that lies
below its own log p_y (ties count 1/2). Thresholding this per-class percentile at
1 - alpha is Attack-P's per-class threshold at FPR alpha.

A class with n auxiliary examples has only 2n + 1 percentile levels, and every
candidate above all n ties at the top: about 1/(n + 1) of its non-members, so with a
few dozen per class no threshold reaches 1% FPR and the TPR there is 0 by
construction. ``small_classes`` says what a class with fewer than ``MIN_AUXILIARY``
auxiliary examples (what the smallest reported FPR, 1/1000, needs) does:

- ``global`` (the default): the percentile among all auxiliary examples, one threshold
  for every small class (ml_privacy_meter's population attack uses one threshold for all);
- ``per-class``: its own percentile all the same (the former default; the records made
  with it state it);
- ``tie-break``: its own percentile, with ties between candidates broken by their
  raw log p_y (a miabench refinement; see :func:`break_ties`). Every tie is broken,
  but ties are common only where a class has few auxiliary examples.

Every record states the rule it ran with. A class with no auxiliary example at all uses
all of them, whatever the rule.
"""

import math
from dataclasses import dataclass

import numpy as np

from miabench.api import Attack, AttackView, ThreatModel
from miabench.attacks.common import true_class_log_prob
from miabench.metrics import FPR_LEVELS
from miabench.params import param
from miabench.registry import attacks

MIN_AUXILIARY = math.ceil(1 / min(FPR_LEVELS))  # 1000: examples a threshold at the smallest reported FPR needs
SMALL_CLASS_RULES = ("global", "per-class", "tie-break")


def percentile(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The fraction of ``reference`` below each of ``values``, ties counting 1/2."""
    reference = np.sort(reference)
    below = np.searchsorted(reference, values, side="left")
    at_most = np.searchsorted(reference, values, side="right")
    return (below + at_most) / (2 * len(reference))


def break_ties(scores: np.ndarray, by: np.ndarray) -> np.ndarray:
    """``scores`` with their ties broken by ``by`` (the higher first).

    Each score rises by less than the smallest gap between distinct scores, in the order of
    ``by``'s distinct values, so that distinct scores keep their order (and their scale), and
    examples equal in both stay tied.
    """
    levels = np.unique(scores)
    gap = np.diff(levels).min() if len(levels) > 1 else 1.0
    _, rank = np.unique(by, return_inverse=True)
    return scores + gap * rank / (rank.max() + 1)


@attacks.register("population")
@dataclass
class Population(Attack):
    small_classes: str = param(
        "global", f"what a class with fewer than {MIN_AUXILIARY} auxiliary examples does: the percentile among all "
        "auxiliary examples, its own percentile, or its own with ties broken by log p_y",
        choices=SMALL_CLASS_RULES,
    )  # fmt: skip

    description = (
        "Attack-P: the target's loss against per-class thresholds from known non-members, one global threshold "
        "for classes with too few"
    )
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
            pooled = self.small_classes == "global" and reference.size < MIN_AUXILIARY
            if reference.size == 0 or pooled:  # no known non-member of this class, or too few: use them all
                reference = target[auxiliary]
            scores[in_class] = percentile(target[in_class], reference)
        return break_ties(scores, target) if self.small_classes == "tie-break" else scores
