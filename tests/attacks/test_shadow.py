"""Learned attacks: shadow (per-class classifiers) and logit-probe (one class-agnostic classifier)."""

import numpy as np
import pytest

from miabench import scoring
from miabench.plan import MembershipPlan
from miabench.registry import attacks


def boosted_cube(models=8, examples=800, classes=5, seed=0):
    """Random logits where every model's members get +1.5 on their true class."""
    rng = np.random.default_rng(seed)
    plan = MembershipPlan.balanced(models, examples, seed, auxiliary=examples // 10)
    labels = rng.integers(0, classes, examples)
    logits = rng.normal(0, 1, (models, examples, 1, classes)).astype(np.float32)
    logits[:, np.arange(examples), 0, labels] += 1.0 + 1.5 * plan.members
    return logits, labels, plan


@pytest.mark.parametrize("name", ["shadow", "logit-probe"])
def test_learned_attacks_find_the_member_boost(name, mean_auc):
    cube = boosted_cube()
    assert mean_auc(name, cube) > 0.6
    assert mean_auc(name, cube, max_rows=300) > 0.6  # the subsample still learns
    logits, labels, plan = cube
    first = scoring.leave_one_out(attacks.create(name), logits, labels, plan).scores
    again = scoring.leave_one_out(attacks.create(name), logits, labels, plan).scores
    np.testing.assert_array_equal(first, again)
    assert attacks.create(name).threat_model().min_references == 1
