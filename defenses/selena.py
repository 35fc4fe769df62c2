"""SELENA (Tang et al., USENIX Security 2022): Split-AI sub-models, then self-distillation.

Split-AI: ``submodels`` (K') sub-models of the task's family; each of the model's members
is left out of ``excluded`` (L) of them, chosen at random per member as in the paper, and
each sub-model trains on the members it keeps. Every member's soft label is the mean
softmax of the L sub-models that never saw it, so it carries no trace of the member's own
presence. Self-distillation: the served model trains on its members with those soft
labels (soft cross-entropy) and never sees a hard label, so its outputs on members look
like a model's outputs on non-members.

The paper uses K' = 25, L = 10; the defaults here (K' = 6, L = 3) keep a run cheap on a
CPU (each sub-model still trains on (K' - L) / K' of the members). Sub-models train with
the task's recipe through the standard loop, stacked when the family stacks (all
sub-models of the group's models in one vmap), else one at a time.
"""

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import torch

from miabench import engine
from miabench.api import Defense
from miabench.params import ParameterError, param
from miabench.registry import defenses
from miabench.seeding import derive


@defenses.register("selena")
@dataclass
class Selena(Defense):
    submodels: int = param(6, "K', the sub-models of each model (paper: 25)", within="[2, inf)")
    excluded: int = param(3, "L, the sub-models that never see a given member (paper: 10)", within="[1, inf)")

    description = "Split-AI sub-models that each leave members out, then self-distillation on their soft labels"
    citation = ("tang2022mitigating",)
    # (K', L): this benchmark's CPU default (6, 3) and the paper's (25, 10), which trains 25 sub-models a model.
    grid = MappingProxyType({("submodels", "excluded"): ((6, 3), (25, 10))})

    def __post_init__(self):
        super().__post_init__()
        if self.excluded >= self.submodels:
            fix = f"give e.g. excluded={self.submodels // 2}"
            raise ParameterError("excluded", f"{self.excluded} is not below submodels={self.submodels}; {fix}")

    def split(self, members: np.ndarray, seed: int) -> np.ndarray:
        """``[K * K', N]``: row ``k * K' + j`` holds model k's members that its sub-model j trains on."""
        count, n = members.shape
        subsets = np.zeros((count, self.submodels, n), dtype=bool)
        for k in range(count):
            rng = np.random.default_rng(derive(seed, "selena-split", k))
            own = np.flatnonzero(members[k])
            # L sub-models drawn at random (without repetition) for each member leave it out.
            left_out = rng.random((len(own), self.submodels)).argsort(axis=1)[:, : self.excluded]
            keeps = np.ones((len(own), self.submodels), dtype=bool)
            np.put_along_axis(keeps, left_out, False, axis=1)
            subsets[k][:, own] = keeps.T
        return subsets.reshape(count * self.submodels, n)

    def fit(self, job) -> dict[str, np.ndarray]:
        # The split covers every model of the plan, so a model's sub-models train alike in any grouping.
        sub_members = self.split(job.members, job.seed)
        rows = [k * self.submodels + j for k in job.indices for j in range(self.submodels)]
        seed = derive(job.seed, "selena")
        probs = []
        for group in [[row] for row in rows] if job.strategy == "sequential" else [rows]:
            modules = [engine.initialise(job.make_model, seed, row).to(job.device) for row in group]
            sub_models = engine.train(
                engine.make_group(modules, job.strategy),
                job.x,
                job.y,
                sub_members,
                group,
                job.recipe,
                seed,
                progress=job.progress,
            )
            logits = engine.predict(sub_models, job.x, lambda batch, view: batch, views=1)[:, :, 0]
            probs.append(logits.softmax(-1))
        probs = torch.cat(probs).view(len(job.indices), self.submodels, *probs[0].shape[1:])  # [G, K', N, C]

        # Each member's soft label: the mean over the sub-models that did not train on it.
        unseen = torch.from_numpy(job.members[job.indices][:, None] & ~sub_members[rows].reshape(probs.shape[:3]))
        soft = (probs * unseen[..., None]).sum(1) / unseen.sum(1).clamp(min=1)[..., None]  # [G, N, C]
        soft = soft.to(job.device)
        groups = torch.arange(len(job.indices), device=job.device)[:, None]

        def loss(logits: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
            return -(soft[groups, idx] * logits.log_softmax(-1)).sum(-1).mean(1)

        job.train(loss=loss)
        return {}
