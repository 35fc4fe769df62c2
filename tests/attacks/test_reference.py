"""Difficulty calibration (Watson et al.): the target's loss calibrated by the OUT references' loss on each
example. (Ye et al.'s Attack-R is ``attack-r``, tests/attacks/test_attack_r.py.)"""

import numpy as np
import pytest

from miabench.api import AttackView
from miabench.errors import UserError
from miabench.registry import attacks


def test_reference_calibrates_per_example_difficulty_that_loss_cannot(synthetic_cube, mean_auc):
    cube = synthetic_cube()
    loss, reference = mean_auc("loss", cube), mean_auc("reference", cube)
    assert loss < 0.7 and reference > 0.8 and reference > loss + 0.15


def test_reference_refuses_an_example_without_out_reference():
    log_probs = np.log(np.array([[[0.6, 0.4]], [[0.3, 0.7]]]))
    attack = attacks.create("reference")
    statistic = attack.statistic(np.stack([log_probs] * 3), np.array([0, 1]))
    members = np.array([[True, False], [True, True]])  # example 0 is IN in both references
    view = AttackView(statistic[0], np.array([0, 1]), statistic[1:], members, np.zeros(2, bool))
    with pytest.raises(UserError, match="did not train") as error:
        attack.score(view)
    assert "\n" not in str(error.value)
    members[0, 0] = False
    np.testing.assert_allclose(attack.score(view), [0.0, 0.0])


def test_on_real_models_reference_beats_loss_at_low_fpr(location_runs):
    reference, loss = location_runs[0]["reference"].metrics, location_runs[0]["loss"].metrics
    assert reference.auc.mean > 0.6
    assert reference.tpr_at_fpr["0.01"].ci95[0] > loss.tpr_at_fpr["0.01"].ci95[1]
