"""Training losses of a group of G models, each on its own batch."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor, **options) -> torch.Tensor:
    """Per-example cross-entropy of logits ``[G, B, C]`` against labels ``[G, B]``: ``[G, B]``.

    ``options`` go to ``torch.nn.functional.cross_entropy`` (e.g. ``label_smoothing``).
    """
    flat = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="none", **options)
    return flat.view(labels.shape)
