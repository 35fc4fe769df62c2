"""CRL: running class centres; on real models it changes training, keeps utility and lowers LiRA's AUC."""

import numpy as np
import pytest
import torch

from miabench.defenses.crl import Centres
from miabench.errors import UserError
from miabench.registry import defenses

CHANCE = 1 / 30


def test_registers_and_trains_stacked():
    defense = defenses.create("crl")
    assert not type(defense).serving_only and type(defense).stacks
    assert defense.training_config()["name"] == "crl"


@pytest.mark.parametrize(
    "params", [{"temperature": "-1"}, {"center_momentum": "0"}, {"center_momentum": "1.5"}, {"center_weight": "0"}]
)
def test_bad_parameters_are_one_line_user_errors(params):
    with pytest.raises(UserError) as error:
        defenses.create("crl", params)
    message = str(error.value)
    assert "\n" not in message and "'crl'" in message and next(iter(params)) in message


def test_changes_training_keeps_useful_utility_and_lowers_lira_auc(runs_of):
    run, plain = runs_of("regularizers", "crl"), runs_of("regularizers", "none")
    assert not np.allclose(run.signals.logits, plain.signals.logits), "crl trained the same models"
    assert run["lira"].utility.test_accuracy.mean > 9 * CHANCE  # far above chance, against ~0.63 undefended
    assert run["lira"].metrics.auc.mean < plain["lira"].metrics.auc.mean - 0.03


def test_crl_centres_are_running_class_means():
    centres = Centres(momentum=0.5)
    vectors = torch.tensor([[[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]]])  # one model, classes 0, 0, 1
    centres.update(vectors, torch.tensor([[0, 0, 1]]))
    torch.testing.assert_close(centres.value[0], torch.tensor([[2.0, 0.0], [0.0, 2.0]]))  # first batch sets them
    centres.update(torch.tensor([[[4.0, 0.0]]]), torch.tensor([[0]]))
    torch.testing.assert_close(centres.value[0], torch.tensor([[3.0, 0.0], [0.0, 2.0]]))  # absent class stays
