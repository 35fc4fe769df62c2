"""Intra-class outliers: the examples that leak most beyond plain overfitting.

Membership leakage concentrates on examples far from the rest of their class
(Khalil et al. 2025). An example's outlyingness is its distance to its class's
centre in input space, in units of the class's typical distance; every record
reports the ``outliers`` subgroup (the most outlying share of each class), and the
``outlier-aware`` defense protects the same examples.
"""

from __future__ import annotations

import numpy as np
import torch

FRACTION = 0.1  # share of each class reported as its outliers


def outlyingness(x: torch.Tensor, labels: np.ndarray) -> np.ndarray:
    """``[N]``: distance to the class centre over the class's median distance."""
    flat = torch.as_tensor(x).reshape(len(labels), -1).float().numpy()
    score = np.zeros(len(labels))
    for c in np.unique(labels):
        rows = labels == c
        distance = np.linalg.norm(flat[rows] - flat[rows].mean(axis=0), axis=1)
        score[rows] = distance / max(np.median(distance), 1e-12)
    return score


def outlier_mask(x: torch.Tensor, labels: np.ndarray, fraction: float = FRACTION) -> np.ndarray:
    """``[N]`` bool: the ``fraction`` most outlying examples of each class (at least one per class)."""
    score = outlyingness(x, labels)
    mask = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        count = max(1, round(fraction * len(rows))) if fraction > 0 else 0
        mask[rows[np.argsort(-score[rows], kind="stable")[:count]]] = True
    return mask
