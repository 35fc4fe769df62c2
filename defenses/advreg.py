"""Adversarial regularization (Nasr, Shokri & Houmansadr, CCS 2018): train against a membership attack.

Training is a min-max game. An inference model h reads what the classifier serves (its
softmax vector) with the one-hot label and outputs P(member). Before every classifier
step, h takes ``attack_steps`` Adam steps to separate a fresh batch of the model's members
from a batch of reference non-members; then the classifier takes its step on
cross-entropy + ``weight`` * mean log h over its batch (the paper's Algorithm 1: the
attack's gain on the members), which pushes members' outputs towards what h takes for
non-members. The reference data is the auxiliary population (examples in no model), which
the defender may hold as the attacker does.

The standard training loop does the classifier's steps (its batches, optimizer and
seeds); h's steps run inside its loss. Each model has its own h, stacked like the models.
h's architecture follows the paper (a branch on the prediction, one on the label, then
layers on both) with smaller widths. The run does not resume from an epoch checkpoint:
h and its batch draws would start afresh, so a resumed model would differ from one
trained in one go; a killed run retrains the group instead.
"""

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from miabench import engine
from miabench.api import Defense
from miabench.errors import UserError
from miabench.losses import cross_entropy
from miabench.params import param
from miabench.registry import defenses
from miabench.seeding import derive


class InferenceModel(nn.Module):
    """h(softmax vector, one-hot label) -> the logit of P(member); input is both, concatenated."""

    def __init__(self, classes: int):
        super().__init__()
        self.classes = classes
        self.prediction = nn.Sequential(nn.Linear(classes, 256), nn.ReLU(), nn.Linear(256, 64), nn.ReLU())
        self.label = nn.Sequential(nn.Linear(classes, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU())
        self.combine = nn.Sequential(nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        probs, onehot = z[..., : self.classes], z[..., self.classes :]
        return self.combine(torch.cat([self.prediction(probs), self.label(onehot)], dim=-1))[..., 0]


@defenses.register("advreg")
@dataclass
class AdvReg(Defense):
    weight: float = param(1.0, "the paper's lambda: how much the attack's gain weighs", within="[0, inf)")
    attack_steps: int = param(1, "the paper's k: inference-model steps per classifier step", within="[1, inf)")
    attack_lr: float = param(1e-3, "the inference model's Adam learning rate", within="(0, inf)")

    description = "min-max training against an inference model that tells members from reference non-members"
    citation = ("nasr2018machine",)
    # The paper's lambda trades accuracy for privacy; from half the default weight to six times it.
    grid = MappingProxyType({"weight": (0.5, 1.0, 2.0, 3.0, 6.0)})

    def fit(self, job) -> dict[str, np.ndarray]:
        reference = np.flatnonzero(job.auxiliary)
        if len(reference) == 0:
            raise UserError("defense 'advreg' needs reference non-members: give the task an auxiliary_fraction > 0")
        members = [np.flatnonzero(job.members[k]) for k in job.indices]
        rngs = [np.random.default_rng(derive(job.seed, "advreg-batches", k)) for k in job.indices]
        batch = job.recipe.batch_size
        with torch.no_grad():
            classes = job.models.forward_shared(job.x[:1]).shape[-1]
        heads = [engine.initialise(lambda: InferenceModel(classes), derive(job.seed, "advreg"), k) for k in job.indices]
        h = engine.make_group([head.to(job.device) for head in heads], "stacked")
        h_optimizer = torch.optim.Adam(h.parameters(), lr=self.attack_lr)

        def served(idx: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
            """h's input: softmax vector and one-hot label, ``[G, B, 2C]``."""
            onehot = F.one_hot(job.y[idx], classes).float()
            return torch.cat([logits.softmax(-1), onehot], dim=-1)

        def draw(pools: list[np.ndarray]) -> torch.Tensor:
            """A batch per model, each drawn with replacement from its own pool: ``[G, B]``."""
            rows = [pool[rng.integers(len(pool), size=batch)] for pool, rng in zip(pools, rngs)]
            return torch.from_numpy(np.stack(rows)).to(job.device)

        def train_attack():
            h.requires_grad_(True)
            for _ in range(self.attack_steps):
                inside, outside = draw(members), draw([reference] * len(members))
                with torch.no_grad():
                    z = torch.cat(
                        [served(inside, job.models(job.x[inside])), served(outside, job.models(job.x[outside]))], 1
                    )
                target = torch.cat([torch.ones(inside.shape), torch.zeros(outside.shape)], 1).to(job.device)
                # Each model's h on its own batch: the gain of the paper is minus this loss.
                bce = F.binary_cross_entropy_with_logits(h(z), target, reduction="none").mean(1)
                h_optimizer.zero_grad(set_to_none=True)
                bce.sum().backward()
                h_optimizer.step()
            h.requires_grad_(False)  # the classifier's step below must not move h

        def loss(logits: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
            train_attack()
            ce = cross_entropy(logits, job.y[idx]).mean(1)
            gain = F.logsigmoid(h(served(idx, logits))).mean(1)  # mean log h(member) on the training batch
            return ce + self.weight * gain

        h.train()
        job.train(loss=loss, checkpoint=None)
        return {}
