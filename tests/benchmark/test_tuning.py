"""Recipe tuning: balanced batches, the validation split, the rule, the grid and the committed records."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from miabench import engine, tuning
from miabench.api import Recipe
from miabench.cache import config_hash
from miabench.harness import run_config


def test_balanced_batches_draw_every_class_equally_often():
    labels = np.array([0] * 90 + [1] * 10)
    members = [np.arange(100)]
    plain = engine.batch_order(members, 18, 10, 0, [0], 0)
    balanced = engine.batch_order(members, 18, 10, 0, [0], 0, labels)  # one pass over the balanced pool
    assert np.bincount(labels[plain[0][:100]]).tolist() == [90, 10]  # the members as they are
    assert np.bincount(labels[balanced[0]]).tolist() == [90, 90]
    assert sorted(balanced[0][labels[balanced[0]] == 0]) == list(range(90))  # each majority member once
    assert np.bincount(balanced[0][labels[balanced[0]] == 1]).max() == 9  # each minority member 9 times


def test_a_recipe_states_balanced_batches_only_when_set_so_earlier_hashes_hold():
    recipe = Recipe(epochs=3, batch_size=16, lr=1e-2)
    assert "balanced_batches" not in recipe.config()
    assert recipe.config() == {k: v for k, v in dataclasses.asdict(recipe).items() if k != "balanced_batches"}
    on = dataclasses.replace(recipe, balanced_batches=True)
    assert on.config()["balanced_batches"] is True
    task = {"name": "t", "version": "1", "params": {}, "model_family": "m", "data_fingerprint": "d"}
    hashes = {config_hash(run_config(task, {}, r.config(), "p", 2, 0, "fp32")) for r in (recipe, on)}
    assert len(hashes) == 2


def test_balanced_batches_change_the_trained_model(toy_setup):
    setup = toy_setup(models=2)
    plain = engine.batch_order([np.flatnonzero(setup.plan.members[0])], 4, 16, 0, [0], 0)
    balanced = engine.batch_order([np.flatnonzero(setup.plan.members[0])], 4, 16, 0, [0], 0, setup.population.y.numpy())
    assert not np.array_equal(plain, balanced)


def test_the_validation_split_is_carved_from_the_held_out_data_by_a_fixed_draw(toy_task):
    population = toy_task().load(None)
    carved = population.carve_validation(0.5, "toy")
    assert len(carved.y_val) + len(carved.y_test) == len(population.y_test) == 60
    assert len(carved.y_val) == 30
    rows = {tuple(row) for row in population.x_test.numpy().round(6)}
    val = {tuple(row) for row in carved.x_val.numpy().round(6)}
    test = {tuple(row) for row in carved.x_test.numpy().round(6)}
    assert val | test == rows and not val & test
    assert torch.equal(carved.x, population.x)  # the population itself is untouched
    again = population.carve_validation(0.5, "toy")
    assert torch.equal(again.x_val, carved.x_val)
    assert not torch.equal(population.carve_validation(0.5, "other").x_val, carved.x_val)
    assert population.carve_validation(0.0, "toy") is population


def test_the_rule_is_balanced_accuracy_for_imbalanced_or_flagging_tasks(toy_task):
    task = toy_task()
    population = task.load(None)
    assert tuning.rule(task, population) == "accuracy"  # three roughly equal blobs
    skewed = dataclasses.replace(population, y=torch.where(population.y == 2, 0, population.y))
    assert tuning.rule(task, skewed) == "balanced_accuracy"


def test_a_task_without_a_grid_is_refused_in_one_line(toy_task):
    with pytest.raises(Exception, match="declares no recipe grid"):
        tuning.grid(toy_task())


@pytest.fixture
def gridded_task(toy_task):
    task = toy_task(examples=200)
    type(task).recipe_grid = property(lambda self: {"lr": (1e-2, 1e-3), "balanced_batches": (False, True)})
    yield task
    del type(task).recipe_grid


def test_a_shorter_run_is_scored_as_the_prefix_of_the_longest_under_a_constant_rate(toy_task):
    task = toy_task(examples=200)
    population = task.load(None).carve_validation(0.5, "toy")
    recipe = dataclasses.replace(task.pinned_recipe, epochs=4)
    shared = tuning.evaluate(task, population, recipe, 0, (2, 4))
    alone = tuning.evaluate(task, population, dataclasses.replace(recipe, epochs=2), 0, (2,))
    assert [row["epochs"] for row in shared] == [2, 4]
    for key in ("train_accuracy", "validation", "test"):
        assert shared[0][key] == alone[0][key]
    assert shared[0]["validation"] != shared[1]["validation"] or shared[0]["train_accuracy"] != shared[1][
        "train_accuracy"]  # fmt: skip


def test_tune_scores_every_point_on_validation_and_picks_the_best_by_the_rule(gridded_task):
    found = tuning.tune(gridded_task, None, progress=False)
    assert [row["recipe"] for row in found["rows"]] == [
        {"lr": 1e-2, "balanced_batches": False}, {"lr": 1e-2, "balanced_batches": True},
        {"lr": 1e-3, "balanced_batches": False}, {"lr": 1e-3, "balanced_batches": True},
    ]  # fmt: skip
    scores = [row["validation"][found["rule"]] for row in found["rows"]]
    assert found["winner"] == int(np.argmax(scores))
    assert found["examples"] == {"population": 200, "validation": 30, "test": 30}
    assert found["recipe"]["lr"] == found["rows"][found["winner"]]["recipe"]["lr"]
    assert all(0 <= row["train_accuracy"] <= 1 for row in found["rows"])
    assert len({json.dumps(row["validation"]) for row in found["rows"]}) > 1  # the points differ
    assert f"| {found['rows'][0]['recipe']['lr']} |" in tuning.markdown([found])


# --- the committed records, the pinned recipes and docs/recipes.md ------------------------------


def committed():
    return tuning.load()


def test_every_committed_tuning_record_pins_its_winner_in_the_task():
    from miabench.registry import tasks

    records = committed()
    assert records, "results/recipes holds no tuning record"
    for found in records:
        task = tasks.create(found["task"], {"family": found["family"]} if "family" in tasks.entry(found["task"])
                            .component_class.__dataclass_fields__ else {})  # fmt: skip
        assert dataclasses.asdict(task.pinned_recipe) == found["recipe"], f"{found['task']} {found['family']}"
        assert task.metadata.validation_share == tuning.VALIDATION_SHARE


def test_docs_recipes_is_rendered_from_the_committed_records():
    path = tuning.RECORDS.parent.parent / "docs" / "recipes.md"
    assert path.read_text() == tuning.markdown(committed()), "render it: python -m miabench.tuning"


def test_every_reported_utility_cites_a_known_source():
    import re

    from miabench import citations
    from miabench.registry import tasks

    known = set(citations.entries())
    for name in tasks.names():
        text = tasks.entry(name).component_class.metadata.reported_utility
        for key in re.findall(r"\[([a-z0-9]+)\]", text):
            assert key in known, f"{name}: [{key}] is not in citations.bib"
