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

import numpy as np
import torch
import torch.nn.functional as F

from miabench.api import Defense
from miabench.errors import UserError
from miabench.outliers import FRACTION, outlier_mask
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
    strategy: str = "drop"  # drop, down-weight or noise
    fraction: float = FRACTION  # share of each class of a model's members protected as its outliers
    weight: float = 0.1  # down-weight: factor on the protected members' loss
    noise: float = 1.0  # noise: std of the input noise, relative to each feature's std

    citation = """@inproceedings{khalil2025membership,
  title={Membership Inference Attacks Beyond Overfitting},
  author={Khalil, Mona and Blanco-Justicia, Alberto and Jebreel, Najeeb and Domingo-Ferrer, Josep},
  booktitle={Data Privacy Management (DPM 2025), ESORICS 2025 International Workshops},
  series={Lecture Notes in Computer Science},
  publisher={Springer},
  year={2025},
  note={arXiv:2511.16792}
}"""

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise UserError(f"defense 'outlier-aware': strategy '{self.strategy}' is unknown; use one of {STRATEGIES}")
        if not 0 < self.fraction < 1:
            raise UserError(f"defense 'outlier-aware': fraction = {self.fraction} must be in (0, 1), e.g. {FRACTION}")
        if not 0 <= self.weight < 1:
            raise UserError(f"defense 'outlier-aware': weight = {self.weight} must be in [0, 1), e.g. 0.1")
        if not self.noise > 0:
            raise UserError(f"defense 'outlier-aware': noise = {self.noise} must be > 0, e.g. 1.0")

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
                per_example = F.cross_entropy(logits.flatten(0, 1), job.y[idx].flatten(), reduction="none")
                return (factor[rows, idx] * per_example.view(idx.shape)).mean(dim=1)

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
