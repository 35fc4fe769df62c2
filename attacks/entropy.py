"""Entropy attacks: members get more confident, lower-entropy predictions.

``entropy`` scores minus the Shannon entropy of the prediction (Salem et al., NDSS
2019); ``modified-entropy`` scores minus Song & Mittal's (USENIX Security 2021)
label-aware entropy

    Mentr = -(1 - p_y) log p_y - sum_{i != y} p_i log(1 - p_i),

which is low only when the model is confident in the *true* class. Both use the
identity view and are computed from log-probabilities, so a probability that
rounds to one stays finite; log-probabilities are floored at log of float64's
smallest normal number (p below 1e-308 counts as 1e-308), so even exact zeros do.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from miabench.attacks.common import TargetStatistic, true_class_mask
from miabench.registry import attacks

LOG_TINY = np.log(np.finfo(np.float64).tiny)  # floor for log p and log(1 - p): keeps Mentr finite


def log_one_minus_prob(log_probs: np.ndarray) -> np.ndarray:
    """log(1 - p) of every class of ``log_probs [..., C]``, without cancellation.

    ``log1p(-p)`` is accurate for p <= 1/2; at most one class per row can exceed it,
    the argmax, whose 1 - p is the sum of the other classes' probabilities.
    """
    with np.errstate(divide="ignore"):  # log(0) at a probability of one: replaced below
        out = np.log1p(-np.exp(log_probs))
    top = log_probs.argmax(axis=-1)[..., None]
    is_top = np.arange(log_probs.shape[-1]) == top
    rest = logsumexp(np.where(is_top, -np.inf, log_probs), axis=-1, keepdims=True)  # log sum_{j != top} p_j
    return np.maximum(np.where(is_top, rest, out), LOG_TINY)


def shannon_entropy(log_probs: np.ndarray) -> np.ndarray:
    """H = -sum_c p_c log p_c over the last axis (0 log 0 = 0)."""
    probs = np.exp(log_probs)
    return -(probs * np.where(probs > 0, log_probs, 0.0)).sum(axis=-1)


def modified_entropy(log_probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Song & Mittal's Mentr of ``log_probs [..., N, A, C]`` with ``labels [N]``; returns ``[..., N, A]``."""
    is_true = true_class_mask(log_probs, labels)
    probs = np.exp(log_probs)
    log_true = np.maximum(np.where(is_true, log_probs, -np.inf).max(axis=-1), LOG_TINY)
    true_term = np.expm1(log_true) * log_true  # -(1 - p_y) log p_y
    others = np.where(is_true, 0.0, probs * log_one_minus_prob(log_probs)).sum(axis=-1)
    return true_term - others


@attacks.register("entropy")
@dataclass
class Entropy(TargetStatistic):
    description = "lower prediction entropy means member"
    citation = ("salem2019mlleaks",)

    def statistic(self, outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return -shannon_entropy(outputs[:, :, 0])  # [K, N]


@attacks.register("modified-entropy")
@dataclass
class ModifiedEntropy(TargetStatistic):
    description = "Song & Mittal's label-aware entropy: low only when confident in the true class"
    citation = ("song2021systematic",)

    def statistic(self, outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return -modified_entropy(outputs[:, :, :1], labels)[:, :, 0]  # [K, N]
