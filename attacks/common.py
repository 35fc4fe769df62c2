"""What several attacks share: per-example statistics of log-probabilities, a base class, OUT means.

Every statistic function takes log-probabilities ``[..., N, A, C]`` (any leading axes,
e.g. models) and labels ``[N]``, and returns ``[..., N, A]``.
"""

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.special import logsumexp

from miabench.api import Attack, AttackView, ThreatModel
from miabench.errors import UserError


@dataclass
class TargetStatistic(Attack):
    """An attack that thresholds a statistic of the target's own outputs; it needs no reference model.

    Subclasses define ``statistic`` (model axis first, ``[K, N]``) and may narrow ``access``.
    """

    access: ClassVar[str] = "scores"

    def threat_model(self) -> ThreatModel:
        return ThreatModel(access=self.access)

    def score(self, view: AttackView) -> np.ndarray:
        return view.target


def true_class_mask(log_probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """[N, 1, C] bool, broadcastable against ``log_probs``: True at each example's label."""
    return np.arange(log_probs.shape[-1]) == labels[:, None, None]


def true_class_log_prob(log_probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """log p_y: minus the cross-entropy loss."""
    return np.where(true_class_mask(log_probs, labels), log_probs, -np.inf).max(axis=-1)


def logit_scaled_confidence(log_probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """phi = log p_y - log sum_{y' != y} p_y', computed without forming 1 - p_y."""
    is_true = true_class_mask(log_probs, labels)
    true = np.where(is_true, log_probs, -np.inf).max(axis=-1)
    return true - logsumexp(np.where(is_true, -np.inf, log_probs), axis=-1)


def out_mean(references: np.ndarray, members: np.ndarray, needed: np.ndarray, attack: str) -> np.ndarray:
    """[N] mean over the references ([R, N]) that did not train on each example.

    Every example in ``needed`` ([N] bool) must have at least one such reference.
    """
    out = ~members
    count = out.sum(axis=0)
    missing = int((count[needed] == 0).sum())
    if missing:
        raise UserError(
            f"attack '{attack}' needs at least one reference model that did not train on each challenge example, "
            f"but {missing} have none; use more models (--models)"
        )
    return np.einsum("rn,rn->n", references, out, dtype=np.float64) / np.maximum(count, 1)
