"""Outlier-aware training: protect each model's intra-class outliers, the members that leak most.

Khalil et al. (DPM 2025) find that well-generalising models still leak the membership of
a few training examples, mostly outliers within their class (far from the class centre,
noisy or hard to classify), and suggest defenses that target them. The defender finds
them among each model's OWN members with :func:`miabench.outliers.outlier_mask` (the
``fraction`` most outlying members of each class, the same measure as the ``outliers``
subgroup every record reports) and protects them with one ``strategy``:

- ``drop``: trains without them;
- ``down-weight``: their cross-entropy is multiplied by ``weight`` (the batch mean is
  still taken over every example, so the other examples count as before);
- ``noise``: each time one is drawn into a batch its input gets fresh Gaussian noise of
  std ``noise`` times the feature's std over the population (inputs must be real-valued).

Facts: ``protected``, how many members of each model were protected.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import torch

from miabench.api import Defense
from miabench.errors import UserError
from miabench.losses import cross_entropy
from miabench.outliers import FRACTION, outlier_mask
from miabench.params import param
from miabench.registry import defenses

STRATEGIES = ("drop", "down-weight", "noise")


def protected_members(x: torch.Tensor, y: torch.Tensor, members: np.ndarray, fraction: float) -> np.ndarray:
    """``[K, N]`` bool: the outliers among each model's own members."""
    x, labels = x.cpu(), y.cpu().numpy()
    protected = np.zeros_like(members)
    for k, own in enumerate(members):
        rows = np.flatnonzero(own)
        protected[k, rows] = outlier_mask(x[rows], labels[rows], fraction)
    return protected


@defenses.register("outlier-aware")
@dataclass
class OutlierAware(Defense):
    strategy: str = param("drop", "how the outliers are protected", choices=STRATEGIES)
    fraction: float = param(FRACTION, "share of each class of a model's members protected as outliers", within="(0, 1)")
    weight: float = param(0.1, "down-weight: factor on the protected members' loss", within="[0, 1)")
    noise: float = param(1.0, "noise: std of the input noise, relative to each feature's std", within="(0, inf)")

    description = "drop, down-weight or add input noise to each model's intra-class outlier members"
    citation = ("khalil2025membership",)
    # Each way of protecting the outliers, at half, once and twice the share the outliers subgroup reports.
    grid = MappingProxyType({"strategy": STRATEGIES, "fraction": (0.05, 0.1, 0.2)})

    def fit(self, job) -> dict[str, np.ndarray]:
        # Every model's outliers, not only this group's: with 'drop', the steps per epoch follow the
        # largest member set of the whole plan, so a model trains the same in any grouping.
        protected = protected_members(job.x, job.y, job.members, self.fraction)
        group = protected[job.indices]
        if self.strategy == "drop":
            job.train(members=job.members & ~protected)
        elif self.strategy == "down-weight":
            factor = torch.from_numpy(np.where(group, self.weight, 1.0)).float().to(job.device)  # [G, N]
            rows = torch.arange(len(job.indices), device=job.device)[:, None]

            def loss(logits, idx):
                return (factor[rows, idx] * cross_entropy(logits, job.y[idx])).mean(dim=1)

            job.train(loss=loss)
        else:
            if not job.x.is_floating_point():
                raise UserError(
                    "defense 'outlier-aware': strategy 'noise' needs real-valued inputs but this task's are "
                    f"{job.x.dtype}; use strategy drop or down-weight"
                )
            scale = self.noise * job.x.std(dim=0)  # relative to each feature's spread over the population
            hits = torch.from_numpy(group).to(job.device)  # [G, N]

            def noisy(idx):
                # Fresh noise on the protected members, from torch's generator, which train() seeds every epoch.
                batch = job.x[idx]  # [G, B, ...]
                hit = hits.gather(1, idx).reshape(idx.shape + (1,) * (batch.dim() - 2))
                return batch + hit * scale * torch.randn_like(batch)

            job.train(inputs=noisy)
        return {"protected": group.sum(axis=1)}
