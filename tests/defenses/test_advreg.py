"""AdvReg on real models: it needs reference data, changes training, keeps utility and leaks less than none."""

import numpy as np
import pytest

from miabench.errors import UserError
from miabench.registry import defenses


def test_registers_as_a_training_defense():
    assert not defenses.entry("advreg").component_class.serving_only


@pytest.mark.parametrize(
    "params, named",
    [({"weight": "-1"}, "weight"), ({"attack_steps": "0"}, "attack_steps"), ({"attack_lr": "0"}, "attack_lr")],
)
def test_bad_parameters_are_one_line(params, named):
    with pytest.raises(UserError) as error:
        defenses.create("advreg", params)
    message = str(error.value)
    assert named in message and "advreg" in message and "\n" not in message


def test_advreg_needs_reference_data(run_defense, tmp_path):
    with pytest.raises(UserError, match="auxiliary_fraction"):
        run_defense("advreg", tmp_path, {"epochs": 1, "auxiliary_fraction": 0}, models=2)


def test_defense_changes_training_and_keeps_utility(runs_of):
    plain, defended = runs_of("adversarial", "none"), runs_of("adversarial", "advreg")
    assert defended["loss"].config_hash != plain["loss"].config_hash
    assert not np.allclose(defended.scores(), plain.scores())
    accuracy = defended["lira"].utility.test_accuracy.mean
    assert accuracy > 0.4  # chance is 1/30; undefended reaches about 0.63
    assert accuracy > plain["lira"].utility.test_accuracy.mean - 0.1


def test_defense_leaks_less_than_none(runs_of):
    plain, defended = runs_of("adversarial", "none"), runs_of("adversarial", "advreg")
    for attack in ("loss", "lira"):
        before, after = plain[attack].metrics.auc.mean, defended[attack].metrics.auc.mean
        assert after < before - 0.03, f"advreg: {attack} AUC {after:.3f} vs {before:.3f} undefended"
