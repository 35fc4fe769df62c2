"""A blind baseline: guesses membership from the data alone, never from a model's outputs.

After Das, Zhang & Tramèr (2024), who show that such baselines beat published attacks
on benchmarks whose members and non-members differ in distribution. A logistic
regression learns P(member | example) from model-free features of each example (its
one-hot label and a fixed random projection of its inputs), with the reference
models' memberships as labels, and scores the target's examples with it. On a plan
that assigns members at random it can do no better than chance (AUC 0.5): a blind
baseline that beats chance reveals a biased split, not a leaky model.
"""

from dataclasses import dataclass

import numpy as np
import torch

from miabench.api import Attack, AttackView, ThreatModel
from miabench.params import param
from miabench.registry import attacks

SEED = 0  # fixes the projection and the subsample: the baseline is deterministic


def features(labels: np.ndarray, inputs, dims: int) -> np.ndarray:
    """[N, F] standardized model-free features: the one-hot label, plus the inputs projected to <= ``dims``."""
    columns = [np.eye(int(labels.max()) + 1)[labels]]
    if inputs is not None and dims > 0:
        flat = torch.as_tensor(inputs).reshape(len(labels), -1).to(torch.float32)
        if flat.shape[1] > dims:
            rng = np.random.default_rng(SEED)
            projection = rng.standard_normal((flat.shape[1], dims)) / np.sqrt(dims)
            flat = flat @ torch.as_tensor(projection, dtype=torch.float32)
        columns.append(flat.numpy().astype(np.float64))
    x = np.concatenate(columns, axis=1)
    std = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)


@attacks.register("blind")
@dataclass
class Blind(Attack):
    max_rows: int = param(20000, "(reference, example) pairs the classifier trains on, subsampled with a fixed seed",
                          within="[2, inf)")  # fmt: skip
    dims: int = param(32, "dimensions of the inputs' random projection (0: the label alone)", within="[0, inf)")

    description = "a data-only baseline that never reads a model's outputs; at chance on miabench's plans"
    citation = ("das2024blind",)

    def threat_model(self) -> ThreatModel:
        return ThreatModel(access="label", min_references=1)

    def statistic(self, outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return np.zeros(outputs.shape[:2])  # the outputs are never used

    def score(self, view: AttackView) -> np.ndarray:
        from sklearn.linear_model import LogisticRegression  # imported here: it slows every CLI start by ~1 s

        x = features(view.labels, view.inputs, self.dims)
        challenge = np.flatnonzero(~view.auxiliary)
        refs, examples = np.meshgrid(np.arange(len(view.reference_members)), challenge, indexing="ij")
        refs, examples = refs.ravel(), examples.ravel()
        if len(refs) > self.max_rows:
            keep = np.sort(np.random.default_rng(SEED).choice(len(refs), self.max_rows, replace=False))
            refs, examples = refs[keep], examples[keep]
        y = view.reference_members[refs, examples]
        if y.all() or not y.any():  # one class only (or none): nothing to learn
            return np.full(len(view.labels), y.mean() if y.size else 0.5)
        model = LogisticRegression(max_iter=1000).fit(x[examples], y)
        return model.predict_proba(x)[:, 1]
