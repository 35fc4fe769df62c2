"""Early stopping: keep each model at the epoch where its loss on held-out members was lowest.

Memorisation grows with training after the model stops generalising better, so
stopping when the loss on unseen data stops falling limits what a model leaks
(Caruana, Lawrence & Giles, 2001; a baseline defense in membership-inference studies,
e.g. Song & Mittal, 2021, and Chen et al., 2022). Each model holds out ``validation`` of
its OWN members (chosen from the seed and the model index, so it never depends on how
models are grouped), trains on the rest, and after every epoch measures its mean
cross-entropy on that held-out split. A model whose validation loss has not improved
for ``patience`` epochs is done: its best weights are kept and later epochs are
ignored for it; the group stops training once every model is done, and every model
ends with the weights of its best epoch. The held-out examples stay members in the
membership plan: they are data the model's owner holds, used for training decisions;
never trained on, they look like non-members to an attack, which lowers its AUC a
little by itself (on Location-30, K = 4, 12 epochs, the models' best epochs were 11-12
and LiRA's AUC 0.66 against 0.74 undefended).

Facts: ``stopped_epoch``, each model's best epoch (1-based).

Training runs without the engine's checkpoint: the best weights and patience counts
live outside it, so a resumed run could not restore them; a killed group retrains.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import torch

from miabench import device as devices
from miabench.api import Defense
from miabench.errors import UserError
from miabench.losses import cross_entropy
from miabench.params import param
from miabench.registry import defenses
from miabench.seeding import derive


class BestWeights:
    """Each model's weights at its best epoch so far, for any group of models (engine.make_group)."""

    def __init__(self, models: torch.nn.Module):
        self.models = models
        self._own = models.own  # model g's part of a state tensor
        self.saved: dict[int, dict[str, torch.Tensor]] = {}

    def save(self, g: int) -> None:
        self.saved[g] = {name: self._own(v, g).clone() for name, v in self.models.state_dict().items()}

    @torch.no_grad()
    def restore(self, g: int) -> None:
        for name, value in self.models.state_dict().items():  # views of the live parameters and buffers
            self._own(value, g).copy_(self.saved[g][name])


def split(members: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``[K, N]`` training and validation masks: ``share`` of each model's own members held out."""
    train, validation = members.copy(), np.zeros_like(members)
    for k, row in enumerate(members):
        own = np.flatnonzero(row)
        count = max(1, round(share * len(own)))
        if count >= len(own):
            raise UserError(
                f"defense 'early-stopping': model {k} has {len(own)} members, too few to hold out "
                f"validation={share}; use more examples per model or a smaller validation share"
            )
        held = np.random.default_rng(derive(seed, "early-stopping", k)).choice(own, size=count, replace=False)
        train[k, held], validation[k, held] = False, True
    return train, validation


@torch.no_grad()
def validation_loss(models, x, y, lists: list[np.ndarray], chunk: int = 1024) -> torch.Tensor:
    """Each model's mean cross-entropy on its own validation examples: ``[G]``."""
    longest = max(len(rows) for rows in lists)
    idx = torch.from_numpy(np.stack([np.resize(rows, longest) for rows in lists])).to(x.device)  # [G, V], wrapped
    weight = torch.from_numpy(np.stack([np.arange(longest) < len(rows) for rows in lists])).to(x.device)
    models.eval()
    total = torch.zeros(len(lists), device=x.device)
    for start in range(0, longest, chunk):
        part = idx[:, start : start + chunk]
        with devices.autocast(x.device):
            logits = models(x[part]).float()
        total += (cross_entropy(logits, y[part]) * weight[:, start : start + chunk]).sum(1)
    models.train()
    return (total / weight.sum(1)).cpu()


@defenses.register("early-stopping")
@dataclass
class EarlyStopping(Defense):
    patience: int = param(3, "epochs without a lower validation loss before a model is done", within="[1, inf)")
    validation: float = param(0.1, "share of each model's own members held out to validate on", within="(0, 1)")

    description = "keep each model at the epoch of its lowest loss on held-out members"
    citation = ("caruana2001overfitting", "song2021systematic")
    # No paper fixes a patience; from stopping at the first epoch without progress to a lenient 10.
    grid = MappingProxyType({"patience": (1, 2, 3, 5, 10)})

    def fit(self, job) -> dict[str, np.ndarray]:
        train, validation = split(job.members, self.validation, job.seed)
        lists = [np.flatnonzero(validation[k]) for k in job.indices]
        count = len(job.indices)
        best = torch.full((count,), float("inf"))
        best_epoch = np.zeros(count)
        waited = np.zeros(count, dtype=int)
        weights = BestWeights(job.models)

        def on_epoch(epoch: int) -> bool:
            losses = validation_loss(job.models, job.x, job.y, lists)
            for g in range(count):
                if waited[g] >= self.patience:
                    continue  # done: what it would do later must not count, as if trained alone
                if losses[g] < best[g]:
                    best[g], best_epoch[g], waited[g] = losses[g], epoch + 1, 0
                    weights.save(g)
                else:
                    waited[g] += 1
            return bool((waited >= self.patience).all())

        job.train(members=train, on_epoch=on_epoch, checkpoint=None)
        for g in range(count):
            weights.restore(g)
        return {"stopped_epoch": best_epoch}
