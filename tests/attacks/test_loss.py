"""LOSS: minus the cross-entropy of the target's identity view."""

import numpy as np
import torch

from miabench import scoring
from miabench.api import AttackView
from miabench.registry import attacks


def test_loss_is_minus_cross_entropy_on_the_identity_view():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 2, 4))
    labels = rng.integers(0, 4, 50)
    loss = attacks.create("loss")
    statistic = loss.statistic(scoring.observe(logits[None], "scores"), labels)
    view = AttackView(statistic[0], labels, statistic, np.ones((1, 50), bool), np.zeros(50, bool))
    expected = -torch.nn.functional.cross_entropy(torch.tensor(logits[:, 0]), torch.tensor(labels), reduction="none")
    np.testing.assert_allclose(loss.score(view), expected.numpy(), rtol=1e-6)
