"""Label-only: members keep their label under perturbation (Choquette-Choo et al., ICML 2021).

The attacker sees only predicted labels. It counts how often the target still
predicts the true class on the task's augmented views (already in the signals
cube) and on noisy copies of the input at growing noise levels, queried through
the counted oracle until the query budget is spent; a label that survives more
noise counts more, which also breaks the ties of a plain count. A training point
sits further from the decision boundary, so its label survives more perturbation.
"""

from dataclasses import dataclass

import numpy as np
import torch

from miabench.api import Attack, AttackView, ThreatModel
from miabench.params import param
from miabench.registry import attacks
from miabench.seeding import derive


@attacks.register("label-only")
@dataclass
class LabelOnly(Attack):
    noise: float = param(4.0, "largest std of the Gaussian input noise, relative to the inputs' std",
                         within="[0, inf)")  # fmt: skip
    samples: int = param(16, "noisy queries per candidate, at noise levels noise/samples, 2 noise/samples, ...",
                         within="[0, inf)")  # fmt: skip
    budget: int = param(100_000, "most queries per target beyond the signals cube", within="[0, inf)")

    description = "the predicted label's robustness to the task's views and growing noise, by counted queries"
    citation = ("choquette2021label",)

    def threat_model(self) -> ThreatModel:
        return ThreatModel(access="label", queries=self.budget if self.samples else 0)

    def statistic(self, outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return (outputs.argmax(-1) == labels[:, None]).astype(np.float64)  # [K, N, A]: correct on each view

    def score(self, view: AttackView) -> np.ndarray:
        correct = view.target.sum(axis=1)  # each view of the cube weighs 1
        asked = np.full(len(correct), view.target.shape[1], dtype=np.float64)
        if view.oracle is None or view.inputs is None or not self.samples:
            return correct / asked  # the cube's views only (e.g. a signals file)
        x = view.inputs.float()
        generator = torch.Generator().manual_seed(derive("label-only", self.noise, self.samples))
        for level in range(1, self.samples + 1):
            count = min(len(x), view.oracle.remaining)
            if count == 0:
                break  # the budget is spent: score with the answers so far
            order = torch.randperm(len(x), generator=generator)[:count].numpy()
            scale = self.noise * x.std() * level / self.samples
            noisy = x[order] + scale * torch.randn(x[order].shape, generator=generator)
            correct[order] += level * (view.oracle.labels(noisy) == view.labels[order])
            asked[order] += level
        return correct / asked
