"""SELENA: every member is left out of exactly L sub-models; on real models it changes training, keeps
utility and leaks less than none."""

import numpy as np
import pytest

from miabench.errors import UserError
from miabench.registry import defenses


def test_registers_as_a_training_defense():
    assert not defenses.entry("selena").component_class.serving_only


@pytest.mark.parametrize(
    "params, named",
    [({"submodels": "1"}, "submodels"), ({"excluded": "0"}, "excluded"),
     ({"submodels": "4", "excluded": "4"}, "excluded"), ({"submodels": "4", "excluded": "5"}, "excluded")],
)  # fmt: skip
def test_bad_parameters_are_one_line(params, named):
    with pytest.raises(UserError) as error:
        defenses.create("selena", params)
    message = str(error.value)
    assert named in message and "selena" in message and "\n" not in message


def test_excluded_must_stay_below_submodels_and_the_error_says_so():
    with pytest.raises(UserError, match=r"^defense 'selena' parameter 'excluded': 6 is not below submodels=6; "):
        defenses.create("selena", {"excluded": 6})


def test_selena_leaves_each_member_out_of_exactly_l_submodels():
    selena = defenses.create("selena", {"submodels": "5", "excluded": "2"})
    members = np.random.default_rng(0).random((3, 50)) < 0.5
    members[1] = members[0]
    split = selena.split(members, seed=0).reshape(3, 5, 50)
    assert not (split & ~members[:, None]).any()  # sub-models train on their model's members only
    kept = split.sum(axis=1)
    assert (kept[members] == 3).all() and (kept[~members] == 0).all()
    assert not np.array_equal(split[0], split[1])  # each model draws its own split, even of the same members


def test_defense_changes_training_and_keeps_utility(runs_of):
    plain, defended = runs_of("adversarial", "none"), runs_of("adversarial", "selena")
    assert defended["loss"].config_hash != plain["loss"].config_hash
    assert not np.allclose(defended.scores(), plain.scores())
    accuracy = defended["lira"].utility.test_accuracy.mean
    assert accuracy > 0.4  # chance is 1/30; undefended reaches about 0.63
    assert accuracy > plain["lira"].utility.test_accuracy.mean - 0.1


def test_defense_leaks_less_than_none(runs_of):
    plain, defended = runs_of("adversarial", "none"), runs_of("adversarial", "selena")
    for attack in ("loss", "lira"):
        before, after = plain[attack].metrics.auc.mean, defended[attack].metrics.auc.mean
        assert after < before - 0.1, f"selena: {attack} AUC {after:.3f} vs {before:.3f} undefended"
