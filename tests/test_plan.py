"""The membership plan: balanced, deterministic, and hashed."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from miabench.errors import UserError
from miabench.plan import MembershipPlan

# Pinned: MembershipPlan.balanced(4, 10, 0).hash. If this changes, the plan construction (or its
# hash) changed, which changes every trained model and cache key: bump the version of every task.
GOLDEN_HASH_4_10_0 = "987d5a9805627902ad1598ee2bf0d82f566bd625766bab69017d3f334144897f"


@pytest.mark.parametrize("models, examples, seed", [(2, 1, 0), (2, 7, 3), (4, 10, 0), (8, 200, 1), (16, 333, 42)])
def test_every_example_is_in_exactly_half_the_models(models, examples, seed):
    plan = MembershipPlan.balanced(models, examples, seed)
    assert plan.members.dtype == np.bool_
    assert plan.members.shape == (models, examples)
    assert plan.num_models == models and plan.num_examples == examples
    assert (plan.members.sum(axis=0) == models // 2).all()
    assert plan.seed == seed


def test_same_seed_same_plan():
    first, second = MembershipPlan.balanced(8, 100, 5), MembershipPlan.balanced(8, 100, 5)
    np.testing.assert_array_equal(first.members, second.members)
    assert first.hash == second.hash


def test_different_seeds_differ():
    first, second = MembershipPlan.balanced(8, 100, 5), MembershipPlan.balanced(8, 100, 6)
    assert not np.array_equal(first.members, second.members)
    assert first.hash != second.hash


def test_hash_changes_when_one_entry_flips():
    plan = MembershipPlan.balanced(4, 10, 0)
    for k, n in [(0, 0), (3, 9), (1, 5)]:
        flipped = plan.members.copy()
        flipped[k, n] = ~flipped[k, n]
        assert MembershipPlan(flipped).hash != plan.hash


def test_hash_depends_on_shape_not_only_bytes():
    # 8 examples pack into one byte per model either way; the shape must still tell them apart.
    members = np.zeros((2, 8), dtype=bool)
    assert MembershipPlan(members).hash != MembershipPlan(members.reshape(4, 4)).hash


def test_hash_ignores_the_seed_field():
    plan = MembershipPlan.balanced(4, 10, 0)
    assert MembershipPlan(plan.members.copy(), seed=None).hash == plan.hash


def test_golden_hash():
    plan = MembershipPlan.balanced(4, 10, 0)
    assert plan.hash == GOLDEN_HASH_4_10_0


@pytest.mark.parametrize("models", [3, 5, 1, 0, -2])
def test_odd_or_too_few_models_is_a_user_error(models):
    with pytest.raises(UserError, match=f"--models {models}: .*even number of models, at least 2"):
        MembershipPlan.balanced(models, 10, 0)
    with pytest.raises(UserError):
        MembershipPlan.check(models)


@settings(max_examples=60, deadline=None)
@given(
    models=st.integers(1, 8).map(lambda half: 2 * half),
    examples=st.integers(1, 50),
    seed=st.integers(0, 2**32 - 1),
)
def test_balanced_property(models, examples, seed):
    plan = MembershipPlan.balanced(models, examples, seed)
    assert plan.members.shape == (models, examples)
    assert plan.members.dtype == np.bool_
    np.testing.assert_array_equal(plan.members.sum(axis=0), np.full(examples, models // 2))
    again = MembershipPlan.balanced(models, examples, seed)
    np.testing.assert_array_equal(plan.members, again.members)
    assert plan.hash == again.hash
