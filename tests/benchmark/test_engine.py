"""The training engine: stacked and one-at-a-time training give the same models; determinism."""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from miabench import engine
from miabench.harness import build_group, groups
from miabench.plan import MembershipPlan


def train_logits(setup, grouping):
    x, y = setup.population.x, setup.population.y
    out = []
    for indices in grouping:
        models = build_group(setup, indices)
        engine.train(models, x, y, setup.plan.members, indices, setup.recipe, setup.seed, progress=False)
        out.append(engine.predict(models, x, setup.task.augment, 2))
    return torch.cat(out).numpy()


def test_stacked_and_sequential_training_give_the_same_models(toy_setup):
    stacked = train_logits(toy_setup(), [[0, 1, 2, 3]])
    sequential = train_logits(toy_setup(), [[0], [1], [2], [3]])
    assert stacked.shape == (4, 120, 2, 3)
    np.testing.assert_allclose(stacked, sequential, atol=1e-4)


def test_grouping_does_not_change_a_model(toy_setup):
    whole = train_logits(toy_setup(), [[0, 1, 2, 3]])
    halves = train_logits(toy_setup(), [[0, 1], [2, 3]])
    np.testing.assert_allclose(whole, halves, atol=1e-5)


def test_same_seed_same_bits_and_other_seed_differs(toy_setup):
    first = train_logits(toy_setup(seed=3), [[0, 1, 2, 3]])
    again = train_logits(toy_setup(seed=3), [[0, 1, 2, 3]])
    other = train_logits(toy_setup(seed=4), [[0, 1, 2, 3]])
    assert np.array_equal(first, again)
    assert not np.allclose(first, other)


def test_models_fit_their_own_members_better(toy_setup):
    setup = toy_setup(models=4)
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
    assert groups(5, "stacked", models_per_group=None) == [[0, 1, 2, 3, 4]]
    assert groups(5, "grouped", models_per_group=2) == [[0, 1], [2, 3], [4]]
    assert groups(3, "sequential", models_per_group=None) == [[0], [1], [2]]


def test_every_strategy_trains_the_same_convolutional_models(toy_setup, toy_image_task):
    """Stacked (vmap), grouped (one wide network) and sequential training, with BatchNorm, a residual,
    mirror and translation, give the same models up to float rounding, and so the same accuracy."""
    outputs = {}
    for strategy in engine.STRATEGIES:
        setup = toy_setup(task=toy_image_task(), strategy=strategy)
        grouping = groups(4, strategy, None)
        outputs[strategy] = train_logits(setup, grouping)
    assert outputs["stacked"].shape == (4, 120, 2, 3)
    np.testing.assert_allclose(outputs["grouped"], outputs["sequential"], atol=1e-4)
    np.testing.assert_allclose(outputs["stacked"], outputs["sequential"], atol=1e-4)
    labels = toy_setup(task=toy_image_task()).population.y.numpy()
    accuracy = (outputs["grouped"][:, :, 0].argmax(-1) == labels).mean()
    assert accuracy > 0.5  # three classes: the models learned something


def test_grouped_models_hand_back_each_models_own_weights(toy_image_task):
    modules = [engine.initialise(toy_image_task().make_model, 0, k) for k in range(3)]
    group = engine.GroupedModels(modules)
    for module, state in zip(modules, group.state_dicts()):
        assert state.keys() == module.state_dict().keys()
        for name, value in module.state_dict().items():
            assert torch.equal(state[name], value)
    x = torch.randn(5, 3, 8, 8)
    group.eval()
    expected = torch.stack([module.eval()(x) for module in modules])
    torch.testing.assert_close(group.forward_shared(x), expected, atol=1e-5, rtol=1e-5)


def test_grouping_refuses_layers_that_mix_channels():
    with pytest.raises(ValueError, match="LayerNorm"):
        engine.GroupedModels([nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4)) for _ in range(2)])


def test_learning_rate_schedules():
    assert engine.lr_factor("constant", 0.7) == 1.0
    assert engine.lr_factor("triangle", 0.0) == pytest.approx(0.2)
    assert engine.lr_factor("triangle", 0.25) == pytest.approx(1.0)
    assert engine.lr_factor("triangle", 1.0) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="schedule"):
        engine.lr_factor("linear", 0.5)


def test_the_cosine_schedule_warms_up_over_5_percent_then_decays_to_zero():
    assert engine.lr_factor("cosine", 0.0) == 0.0
    assert engine.lr_factor("cosine", 0.025) == pytest.approx(0.5)
    assert engine.lr_factor("cosine", 0.05) == pytest.approx(1.0)
    assert engine.lr_factor("cosine", 0.525) == pytest.approx(0.5)
    assert engine.lr_factor("cosine", 1.0) == pytest.approx(0.0, abs=1e-12)
