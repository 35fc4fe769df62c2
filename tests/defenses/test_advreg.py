"""AdvReg on real models: it needs reference data, changes training, keeps utility and leaks less than none."""

import pytest

from miabench.errors import UserError
from miabench.registry import defenses


def test_registers_as_a_training_defense():
    assert not defenses.entry("advreg").component_class.serving_only


def test_advreg_needs_reference_data(run_defense, tmp_path):
    with pytest.raises(UserError, match="auxiliary_fraction"):
        run_defense("advreg", tmp_path, {"epochs": 1, "auxiliary_fraction": 0}, models=2)
