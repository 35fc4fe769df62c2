"""The membership plan: paired and balanced, leak-free for leave-one-out, deterministic, and hashed."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from miabench.errors import UserError
from miabench.plan import MembershipPlan

# Pinned: MembershipPlan.balanced(4, 10, 0).hash. If this changes, the plan construction (or its
# hash) changed, which changes every trained model and cache key: bump the version of every task.
GOLDEN_HASH_4_10_0 = "1fe828f3ae7a65ec8710c27cc169be0de7a7ceb910962560b2f8a85dbb7afd6d"


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


@pytest.mark.parametrize("models, examples, auxiliary", [(2, 9, 0), (4, 10, 2), (8, 201, 20), (16, 500, 50)])
def test_pairs_split_the_challenge_examples(models, examples, auxiliary):
    plan = MembershipPlan.balanced(models, examples, seed=1, auxiliary=auxiliary)
    challenge = plan.challenge
    assert challenge.sum() == examples - auxiliary
    assert not plan.members[:, ~challenge].any()  # auxiliary examples are in no model
    members = plan.members[:, challenge]
    assert (members[0::2] != members[1::2]).all()  # each pair splits every challenge example
    assert plan.paired
    sizes = plan.members.sum(axis=1)
    assert sizes.max() - sizes.min() <= 1  # every model trains on half of the challenge examples


def test_references_leave_out_the_target_and_its_partner():
    plan = MembershipPlan.balanced(6, 30, 0, auxiliary=3)
    assert plan.references(0).tolist() == [2, 3, 4, 5]
    assert plan.references(3).tolist() == [0, 1, 4, 5]


@pytest.mark.parametrize("models", [4, 8, 16])
def test_reference_memberships_say_nothing_about_the_target(models):
    plan = MembershipPlan.balanced(models, 300, 3, auxiliary=30)
    challenge = plan.challenge
    for target in range(models):
        counts = plan.members[plan.references(target)][:, challenge].sum(axis=0)
        # The same count whether the target is IN or OUT: no model-free attack can use it.
        assert (counts == (models - 2) // 2).all()


def test_a_plan_that_is_not_paired_keeps_every_other_model_as_reference():
    members = np.array([[1, 0, 1, 0], [0, 1, 1, 0], [1, 1, 0, 0], [0, 0, 1, 1]], dtype=bool)
    plan = MembershipPlan(members)
    assert not plan.paired
    assert plan.references(1).tolist() == [0, 2, 3]


def test_auxiliary_size_is_checked():
    with pytest.raises(UserError, match="auxiliary"):
        MembershipPlan.balanced(4, 10, 0, auxiliary=10)


def test_a_plain_exactly_half_design_is_flagged_as_leaking():
    rng = np.random.default_rng(0)
    # LiRA's original construction: each example in exactly K/2 models, no pairs.
    members = rng.random((8, 100)).argsort(axis=0) < 4
    assert MembershipPlan(members).leaks
    assert MembershipPlan(members).leak == (
        "target 0's members are in 3.00 of its references on average, its non-members in 4.00"
    )
    assert not MembershipPlan.balanced(8, 100, 0, auxiliary=10).leaks
    for seed in range(5):  # independent coin flips, with too many models for any example to be in one only
        assert MembershipPlan(np.random.default_rng(seed).random((32, 100)) < 0.5).leak is None


@pytest.mark.parametrize("models, auxiliary", [(2, 0), (4, 3), (8, 0), (16, 40)])
def test_a_paired_plan_never_leaks(models, auxiliary):
    for seed in range(3):
        assert MembershipPlan.balanced(models, 101, seed, auxiliary).leak is None


def test_counts_that_differ_without_separating_are_a_leak():
    rng = np.random.default_rng(1)
    members = rng.random((16, 600)) < 0.5
    # Half the examples follow the exactly-K/2 design: the counts overlap, but the members' are lower.
    members[:, :300] = rng.random((16, 300)).argsort(axis=0) < 8
    plan = MembershipPlan(members)
    counts = members[plan.references(0)].sum(axis=0)
    assert set(counts[members[0]]) & set(counts[~members[0]])  # not separated
    assert "of its references on average" in plan.leak


def test_an_example_only_the_target_trains_on_is_a_leak():
    members = np.random.default_rng(0).random((32, 100)) < 0.5  # coin flips: no leak (see above)
    members[:, 7] = False
    members[3, 7] = True  # a member of target 3 alone: no reference holds it, which no non-member shows
    plan = MembershipPlan(members)
    assert plan.leak == "target 3 trains on 1 example(s) that none of its references trains on"
    assert plan.leaks
