"""AdvReg and SELENA on real models: they change training, keep utility, and leak less than no defense."""

import numpy as np
import pytest

from miabench import runner
from miabench.errors import UserError
from miabench.registry import defenses

EPOCHS = "15"  # enough for the undefended models to overfit (LiRA AUC about 0.78 at K = 4)


@pytest.fixture(scope="module")
def runs(data_dir, tmp_path_factory):
    """``none``, ``advreg`` and ``selena`` on location (K = 4), each attacked by LOSS and LiRA."""
    root = tmp_path_factory.mktemp("adversarial")
    out = {}
    for defense in ("none", "advreg", "selena"):
        records = runner.run(
            task="location", attacks=["loss", "lira"], defense=defense, models=4, params={"epochs": EPOCHS},
            data_dir=data_dir, out=root / defense, cache_dir=root / "cache", progress=False,
        )  # fmt: skip
        with np.load(root / defense / "loss" / "scores.npz") as scores:
            out[defense] = {record["attack"]["name"]: record for record in records} | {"scores": scores["scores"]}
    for defense, got in out.items():
        print(f"{defense}: test accuracy {got['lira']['utility']['test_accuracy']['mean']:.3f}, "
              f"LOSS AUC {got['loss']['metrics']['auc']['mean']:.3f}, LiRA AUC {got['lira']['metrics']['auc']['mean']:.3f}")  # fmt: skip
    return out


def test_registered_with_citations():
    for name in ("advreg", "selena"):
        component = defenses.entry(name).component_class
        assert component.citation.startswith("@") and not component.serving_only


@pytest.mark.parametrize(
    "name, params, named",
    [("advreg", {"weight": "-1"}, "weight"), ("advreg", {"attack_steps": "0"}, "attack_steps"),
     ("advreg", {"attack_lr": "0"}, "attack_lr"), ("selena", {"submodels": "1"}, "submodels"),
     ("selena", {"excluded": "0"}, "excluded"), ("selena", {"submodels": "4", "excluded": "4"}, "excluded")],
)  # fmt: skip
def test_bad_parameters_are_one_line(name, params, named):
    with pytest.raises(UserError) as error:
        defenses.create(name, params)
    message = str(error.value)
    assert named in message and name in message and "\n" not in message


def test_advreg_needs_reference_data(data_dir, tmp_path):
    with pytest.raises(UserError, match="auxiliary_fraction"):
        runner.run(
            task="location", attacks=["loss"], defense="advreg", models=2,
            params={"epochs": "1", "auxiliary_fraction": "0"}, data_dir=data_dir, out=tmp_path / "out",
            cache_dir=tmp_path / "cache", progress=False,
        )  # fmt: skip


def test_selena_leaves_each_member_out_of_exactly_l_submodels():
    selena = defenses.create("selena", {"submodels": "5", "excluded": "2"})
    members = np.random.default_rng(0).random((3, 50)) < 0.5
    members[1] = members[0]
    split = selena.split(members, seed=0).reshape(3, 5, 50)
    assert not (split & ~members[:, None]).any()  # sub-models train on their model's members only
    kept = split.sum(axis=1)
    assert (kept[members] == 3).all() and (kept[~members] == 0).all()
    assert not np.array_equal(split[0], split[1])  # each model draws its own split, even of the same members


@pytest.mark.parametrize("name", ["advreg", "selena"])
def test_defense_changes_training_and_keeps_utility(runs, name):
    plain, defended = runs["none"], runs[name]
    assert defended["loss"]["config_hash"] != plain["loss"]["config_hash"]
    assert not np.allclose(defended["scores"], plain["scores"])
    accuracy = defended["lira"]["utility"]["test_accuracy"]["mean"]
    assert accuracy > 0.4  # chance is 1/30; undefended reaches about 0.63
    assert accuracy > plain["lira"]["utility"]["test_accuracy"]["mean"] - 0.1


@pytest.mark.parametrize("name, margin", [("advreg", 0.03), ("selena", 0.1)])
def test_defense_leaks_less_than_none(runs, name, margin):
    for attack in ("loss", "lira"):
        plain = runs["none"][attack]["metrics"]["auc"]["mean"]
        defended = runs[name][attack]["metrics"]["auc"]["mean"]
        assert defended < plain - margin, f"{name}: {attack} AUC {defended:.3f} vs {plain:.3f} undefended"
