"""The training engine: stacked and one-at-a-time training give the same models; determinism."""

import dataclasses

import numpy as np
import torch
from toy import no_defense, toy_task

from miabench import engine
from miabench.harness import Setup, build_group, groups
from miabench.plan import MembershipPlan


def make_setup(seed=0, models=4):
    task = toy_task()
    population = task.load(None)
    plan = MembershipPlan.balanced(models, len(population), seed)
    return Setup(task, population, plan, no_defense(), task.recipe(), seed, torch.device("cpu"))


def train_logits(setup, grouping):
    x, y = setup.population.x, setup.population.y
    out = []
    for indices in grouping:
        models = build_group(setup, indices)
        engine.train(models, x, y, setup.plan.members, indices, setup.recipe, setup.seed, progress=False)
        out.append(engine.predict(models, x, setup.task.augment, 2))
    return torch.cat(out).numpy()


def test_stacked_and_sequential_training_give_the_same_models():
    stacked = train_logits(make_setup(), [[0, 1, 2, 3]])
    sequential = train_logits(make_setup(), [[0], [1], [2], [3]])
    assert stacked.shape == (4, 120, 2, 3)
    np.testing.assert_allclose(stacked, sequential, atol=1e-4)


def test_grouping_does_not_change_a_model():
    whole = train_logits(make_setup(), [[0, 1, 2, 3]])
    halves = train_logits(make_setup(), [[0, 1], [2, 3]])
    np.testing.assert_allclose(whole, halves, atol=1e-5)


def test_same_seed_same_bits_and_other_seed_differs():
    first = train_logits(make_setup(seed=3), [[0, 1, 2, 3]])
    again = train_logits(make_setup(seed=3), [[0, 1, 2, 3]])
    other = train_logits(make_setup(seed=4), [[0, 1, 2, 3]])
    assert np.array_equal(first, again)
    assert not np.allclose(first, other)


def test_models_fit_their_own_members_better():
    setup = make_setup(models=4)
    setup = dataclasses.replace(setup, recipe=dataclasses.replace(setup.recipe, epochs=30))
    logits = train_logits(setup, [[0, 1, 2, 3]])[:, :, 0]
    correct = logits.argmax(-1) == setup.population.y.numpy()
    members = setup.plan.members
    assert correct[members].mean() > correct[~members].mean() + 0.1


def test_batch_order_uses_only_members_and_wraps_equally():
    members = MembershipPlan.balanced(4, 50, 0).members
    member_lists = [np.flatnonzero(m) for m in members]
    order = engine.batch_order(member_lists, steps=5, batch_size=8, seed=0, model_indices=range(4), epoch=0)
    assert order.shape == (4, 40)
    for row, allowed in zip(order, member_lists):
        assert set(row) <= set(allowed)
        assert len(set(row)) == min(len(allowed), 40)  # every member seen before any repeats


def test_groups_split_models():
    assert groups(5, stacked=True, models_per_group=None) == [[0, 1, 2, 3, 4]]
    assert groups(5, stacked=True, models_per_group=2) == [[0, 1], [2, 3], [4]]
    assert groups(3, stacked=False, models_per_group=None) == [[0], [1], [2]]
