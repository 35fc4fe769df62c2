"""RelaxLoss (Chen, Yu & Fritz, ICLR 2022): train each model to a target loss ``alpha``, not to zero.

Membership leaks through the gap between the loss of members (driven towards 0) and
of other examples. RelaxLoss aims at a more achievable loss level ``alpha``, so
members' losses stay near where unseen examples' are. Per model and per batch, with
``L`` its mean cross-entropy (Algorithm 1 of the paper):

- ``L >= alpha``: normal gradient descent on ``L``;
- ``L < alpha`` in an even epoch: gradient *ascent* on ``L`` (back up to the target);
- ``L < alpha`` in an odd epoch: *posterior flattening*. Each correctly classified
  example gets a soft target that keeps the model's own probability ``p_y`` on its
  label and spreads ``1 - p_y`` evenly over the other ``C - 1`` classes (a constant:
  no gradient flows through it); descending on the cross-entropy to it flattens the
  non-label probabilities and so widens the margin without raising the confidence.
  Misclassified examples keep their one-hot target (normal descent), so flattening
  never holds a wrong prediction in place.

Each model of a stacked group follows its own branch (the condition is per model). The
alternation is by epoch parity, as in the authors' released code; the gradient ascent
is the descent of ``-L`` (the code's ``|L - alpha|`` has the same gradient). Where the
released code (DingfanChen/RelaxLoss) differs: it clamps ``p_y`` in the soft target at
``upper`` (1.0, a no-op, for CIFAR; 0.3 and 0.1 for Purchase and Texas), omitted
here; its tabular version flattens every example of the batch, and its image version
flattens only the misclassified ones while ascending on all; this follows the
algorithm as described (flatten the correctly classified examples). A resumed run picks
the epoch parity up from the engine's checkpoint, so it trains as an uninterrupted one.

Default ``alpha = 1.0``: the paper sets alpha per dataset (1.0 for CIFAR-10, 0.8 for
Purchase-100 and 2.5 for Texas-100 in the released configurations): a level members
should not go below and that unseen examples reach. On Location-30 (K = 4, 12 epochs)
undefended members reach a loss of 0.21 against 1.09 on the test set; with 1.0 they
hold at 0.98, the test-member loss gap falls from 0.88 to 0.57 and LiRA's AUC from
0.74 to 0.65 at 0.59 test accuracy (0.63 undefended). 0.5 kept more accuracy (0.61)
but less privacy (AUC 0.69); 1.5 more privacy (0.62) at the same accuracy as 1.0. A
run whose batch losses never fall below alpha (e.g. 3 epochs on Location-30) trains
exactly as without the defense.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import torch
import torch.nn.functional as F

from miabench.api import Defense
from miabench.losses import cross_entropy
from miabench.params import param
from miabench.registry import defenses


def resumed_epoch(job) -> int:
    """The epoch the standard loop will start at: the one the job's checkpoint has reached, else 0."""
    if job.checkpoint is None or not job.checkpoint.exists():
        return 0
    return int(torch.load(job.checkpoint, map_location="cpu", weights_only=True)["epoch"])


class EpochClock:
    """The epoch the standard loop is in, for losses that depend on it; advanced by the loop's ``on_epoch``."""

    def __init__(self, start: int = 0):
        self.epoch = start

    def on_epoch(self, epoch: int) -> None:
        self.epoch = epoch + 1

    @property
    def even(self) -> bool:
        return self.epoch % 2 == 0


def flattened_targets(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Soft targets ``[..., C]``: the model's own ``p_y`` on the label, ``(1 - p_y) / (C - 1)`` elsewhere."""
    classes = logits.shape[-1]
    p_label = logits.detach().softmax(-1).gather(-1, labels[..., None])  # [..., 1]
    onehot = F.one_hot(labels, classes).to(logits.dtype)
    return onehot * p_label + (1 - onehot) * (1 - p_label) / (classes - 1)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return -(targets * logits.log_softmax(-1)).sum(-1)


def relaxed(loss: torch.Tensor, alpha: float, even: bool, flattening: Callable[[], torch.Tensor]) -> torch.Tensor:
    """Per model ``[G]``: descend on ``loss`` above ``alpha``; below it ascend (even epochs) or
    descend on ``flattening()`` (odd epochs)."""
    below = -loss if even else flattening()
    return torch.where(loss >= alpha, loss, below)


@defenses.register("relaxloss")
@dataclass
class RelaxLoss(Defense):
    alpha: float = param(1.0, "the target mean cross-entropy of a batch", within="(0, inf)")

    description = "train each model to a target loss alpha: ascend below it, or flatten the posteriors"
    citation = ("chen2022relaxloss",)
    # The released configurations: alpha 0.8 (Purchase-100), 1.0 (CIFAR-10), 2.5 (Texas-100); the paper traces
    # its trade-off by sweeping alpha, and the grid spans those values.
    grid = MappingProxyType({"alpha": (0.5, 0.8, 1.0, 1.5, 2.5)})

    def relaxloss(self, logits: torch.Tensor, labels: torch.Tensor, even: bool) -> torch.Tensor:
        """Each model's RelaxLoss objective on its batch: logits ``[G, B, C]``, labels ``[G, B]`` -> ``[G]``."""
        ce = cross_entropy(logits, labels)

        def flattening():
            correct = logits.argmax(-1) == labels
            return torch.where(correct, soft_cross_entropy(logits, flattened_targets(logits, labels)), ce).mean(1)

        return relaxed(ce.mean(1), self.alpha, even, flattening)

    def fit(self, job) -> dict[str, np.ndarray]:
        clock = EpochClock(resumed_epoch(job))
        job.train(
            loss=lambda logits, idx: self.relaxloss(logits, job.y[idx], clock.even),
            on_epoch=clock.on_epoch,
        )
        return {}
