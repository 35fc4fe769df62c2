"""Per-example statistics that several attacks compute from observed log-probabilities.

Every function takes log-probabilities ``[..., N, A, C]`` (any leading axes, e.g. models)
and labels ``[N]``, and returns ``[..., N, A]``.
"""

import numpy as np
from scipy.special import logsumexp


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
