"""SELENA: every member is left out of exactly L sub-models; on real models it changes training, keeps
utility and leaks less than none."""

import numpy as np
import pytest

from miabench.errors import UserError
from miabench.registry import defenses


def test_registers_as_a_training_defense():
    assert not defenses.entry("selena").component_class.serving_only


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
