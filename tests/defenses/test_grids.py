"""Each defense's pinned grid (issue 16): declared once, within the declared ranges, run by `--grid` as a sweep
attacked by one attack set per access level; and DP-SGD's own recipe."""

import dataclasses

import numpy as np
import pytest

from miabench import cli, spec
from miabench.api import Recipe
from miabench.params import check_value, declarations
from miabench.registry import defenses


@pytest.mark.parametrize("name", defenses.names())
def test_every_grid_names_declared_parameters_and_values_they_admit(name):
    cls = defenses.entry(name).component_class
    declared = declarations(cls)
    assert bool(cls.grid) == bool(
        declared
    )  # every defense with a knob pins a grid of it; none and label-only have none
    for key, values in cls.grid.items():
        names = key if isinstance(key, tuple) else (key,)
        assert set(names) <= set(declared) and len(values) >= 2
        for value in values:
            for param, item in zip(names, value if isinstance(key, tuple) else (value,)):
                assert check_value(item, declared[param]) == item
    settings = cls.grid_settings()
    assert len(settings) == len({tuple(sorted(s.items())) for s in settings})  # no setting twice
    for setting in settings:
        defenses.create(name, setting)  # also what ranges cannot say, e.g. SELENA's L below K'


def test_grids_hold_the_papers_values():
    grid = {name: defenses.entry(name).component_class.grid for name in defenses.names()}
    assert grid["dpsgd"]["epsilon"] == (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
    assert 0.5 in grid["dropout"]["p"] and 0.1 in grid["label-smoothing"]["epsilon"]
    assert {0.8, 1.0, 2.5} <= set(grid["relaxloss"]["alpha"])  # the released configurations
    assert (25, 10) in grid["selena"][("submodels", "excluded")]
    assert set(grid["outlier-aware"]["strategy"]) == {"drop", "down-weight", "noise"}
    assert len(defenses.entry("outlier-aware").component_class.grid_settings()) == 9  # strategy x fraction


def test_list_shows_the_grid_and_the_attack_set(capsys):
    assert cli.main(["list", "dpsgd"]) == 0
    text = capsys.readouterr().out
    assert "epsilon in 0.5, 1.0, 2.0, 4.0, 8.0, 16.0 (6 settings" in text and "--defense dpsgd --grid" in text
    assert "attacked by" in text and "lira-offline" in text
    assert cli.main(["list", "selena"]) == 0
    assert "(submodels, excluded) in (6, 3), (25, 10)" in " ".join(capsys.readouterr().out.split())


def test_grid_sweep_runs_every_setting_and_none_with_one_attack_set(tmp_path):
    plan = spec.grid_sweep(["dpsgd", "label-only"], {"epochs": "2"}, tmp_path)
    names = [name for name, _ in plan.runs]
    assert names == ["none"] + [f"dpsgd-epsilon={eps}" for eps in (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)] + ["label-only"]
    runs = dict(plan.runs)
    assert runs["dpsgd-epsilon=0.5"].of("dpsgd") == {"epsilon": 0.5} and runs["none"].of("dpsgd") == {}
    assert all(run.of("location") == {"epochs": "2"} for run in runs.values())  # the task's setting is every run's
    assert runs["dpsgd-epsilon=8.0"].attacks == spec.SCORE_ATTACKS
    assert runs["label-only"].attacks == spec.ATTACK_SETS["label"] == (*spec.SCORE_ATTACKS, "gap", "label-only")
    assert runs["none"].attacks == spec.ATTACK_SETS["label"]  # none meets every attack any setting of the sweep does
    assert runs["none"].out == tmp_path / "none"
    # Attacks named by the user are every run's; a list among the parameters multiplies the grid.
    mine = spec.grid_sweep(["top-k"], {"epochs": "2,3"}, None, attacks=("loss",))
    assert [name for name, _ in mine.runs][:3] == ["none", "top-k-k=1-epochs=2", "top-k-k=1-epochs=3"]
    assert {run.attacks for _, run in mine.runs} == {("loss",)}


def test_run_grid_flag_runs_the_grid_sweep(tmp_path, monkeypatch):
    ran = {}

    def fake(plan, out, finished=None):
        ran["plan"] = plan
        (out / "frontier.md").parent.mkdir(parents=True, exist_ok=True)
        (out / "frontier.md").write_text("table\n")

    monkeypatch.setattr("miabench.sweep.run", fake)
    assert cli.main(["run", "--defense", "rounding", "--grid", "--param", "epochs=1", "--out", str(tmp_path)]) == 0
    assert [name for name, _ in ran["plan"].runs] == ["none", "rounding-decimals=1", "rounding-decimals=2",
                                                      "rounding-decimals=3"]  # fmt: skip


def test_dpsgd_takes_its_own_recipe_and_states_it_only_when_set():
    task_recipe = Recipe(epochs=30, batch_size=256, lr=1e-3)
    default = defenses.create("dpsgd")
    assert default.training_recipe(task_recipe) == task_recipe  # none: the task's
    own = defenses.create("dpsgd", {"private_lr": 3e-3, "private_batch_size": 512, "private_epochs": 10})
    recipe = own.training_recipe(task_recipe)
    assert (recipe.lr, recipe.batch_size, recipe.epochs) == (3e-3, 512, 10)
    assert recipe.optimizer == task_recipe.optimizer and recipe == dataclasses.replace(
        task_recipe, lr=3e-3, batch_size=512, epochs=10
    )
    # Unset, the new parameters are left out of the training config: earlier cache keys and hashes stay valid.
    assert default.training_config()["params"] == {"epsilon": 8.0, "delta": None, "max_grad_norm": 1.0}
    assert own.training_config()["params"]["private_lr"] == 3e-3
    # The facts the validator recomputes follow DP-SGD's recipe (its batches and epochs), not the task's.
    members = np.zeros((2, 2000), bool)
    members[0, :1000] = members[1, 1000:] = True
    assert own.expected_facts(recipe, members) != own.expected_facts(task_recipe, members)
    # Being DP-SGD's, not the task's, they leave the undefended run of a sweep alone.
    plan = spec.sweep(["dpsgd"], {"private_lr": "3e-3", "epsilon": "1,8"}, None)
    runs = dict(plan.runs)
    assert runs["none"].params == {} and runs["dpsgd-epsilon=1"].of("dpsgd")["private_lr"] == "3e-3"
