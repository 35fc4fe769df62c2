"""What several attacks share: per-example statistics of log-probabilities, a base class, OUT means.

Every statistic function takes log-probabilities ``[..., N, A, C]`` (any leading axes,
e.g. models) and labels ``[N]``, and returns ``[..., N, A]``.
"""

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

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
    index = labels.reshape((1,) * (log_probs.ndim - 3) + (-1, 1, 1))
    return np.take_along_axis(log_probs, index, axis=-1)[..., 0]


BLOCK = 1 << 14  # examples (of one leading index) per step: the temporaries stay in cache


def logit_scaled_confidence(log_probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """phi = log p_y - log sum_{y' != y} p_y', in float64, computed without forming 1 - p_y.

    A log-sum-exp over the other classes, one block of examples at a time: over a whole
    cube, temporaries of its size would cost more than the arithmetic.
    """
    *leading, examples, views, classes = log_probs.shape
    rows = log_probs.reshape(-1, examples, views, classes)
    phi = np.empty(rows.shape[:-1])
    for start in range(0, examples, BLOCK):
        true = labels[start : start + BLOCK]
        at_true = np.arange(len(true)), slice(None), true
        for row, out in zip(rows[:, start : start + BLOCK], phi[:, start : start + BLOCK]):
            others = row.astype(np.float64)  # a copy, overwritten below
            out[:] = others[at_true]
            others[at_true] = -np.inf
            top = others.max(axis=-1)
            top[~np.isfinite(top)] = 0  # as logsumexp does: a row of -inf gives -inf, not NaN
            others -= top[..., None]
            np.exp(others, out=others)
            with np.errstate(divide="ignore"):  # no other class: phi = inf, silently, as with logsumexp
                out -= top + np.log(others.sum(axis=-1))
    return phi.reshape(*leading, examples, views)


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
