"""The blind baseline: it finds a biased split from the data alone, and nothing in miabench's plans."""

import numpy as np
import torch

from miabench import scoring
from miabench.metrics import auc
from miabench.plan import MembershipPlan
from miabench.registry import attacks


def test_blind_finds_a_biased_split_and_nothing_in_a_random_one():
    rng = np.random.default_rng(0)
    models, examples = 8, 1200
    inputs = torch.tensor(rng.normal(size=(examples, 40)), dtype=torch.float32)
    labels = rng.integers(0, 4, examples)
    outputs = np.zeros((models, examples, 1, 4))
    blind = attacks.create("blind")

    def blind_auc(members):
        plan = MembershipPlan(members)
        scores = scoring.leave_one_out(blind, outputs, labels, plan, inputs=inputs).scores
        return np.mean([auc(s, m) for s, m in zip(scores, members)])

    # Members over-drawn from examples whose inputs point one way: the data alone gives them away.
    direction = inputs.numpy() @ rng.normal(size=40)
    biased = rng.random((models, examples)) < np.where(direction > 0, 0.8, 0.2)
    assert blind_auc(biased) > 0.7
    assert abs(blind_auc(MembershipPlan.balanced(models, examples, 0).members) - 0.5) < 0.05
    # Without inputs (a signals file) it still runs, on the labels alone.
    plan = MembershipPlan.balanced(models, examples, 0, 100)
    assert np.isfinite(scoring.leave_one_out(blind, outputs, labels, plan).scores).all()


def test_on_real_models_blind_is_at_chance(location_runs):
    low, high = location_runs[0]["blind"].metrics.auc.ci95
    assert low <= 0.5 <= high
