"""LiRA, online and offline: per-example calibration, its need for references, and its edge on real models."""

import numpy as np
import pytest

from miabench import scoring
from miabench.errors import UserError
from miabench.registry import attacks


def test_lira_calibrates_per_example_difficulty_that_loss_cannot(synthetic_cube, mean_auc):
    cube = synthetic_cube()
    loss, online, offline = (mean_auc(name, cube) for name in ("loss", "lira", "lira-offline"))
    assert 0.5 < loss < 0.7
    assert online > 0.9 and offline > 0.85
    assert online > offline
    assert mean_auc("lira", cube, fixed_variance=True) > 0.9


def test_online_lira_refuses_too_few_references(synthetic_cube):
    logits, labels, plan = synthetic_cube(models=2, examples=20)
    for name in ("lira", "lira-offline"):
        with pytest.raises(UserError, match="reference model"):
            scoring.leave_one_out(attacks.create(name), logits, labels, plan)
    logits, labels, plan = synthetic_cube(models=4, examples=20)  # the smallest K that works
    for name in ("lira", "lira-offline"):
        assert np.isfinite(scoring.leave_one_out(attacks.create(name), logits, labels, plan).scores).all()


def test_on_real_models_lira_beats_loss_at_low_fpr(location_run):
    loss, lira = location_run["loss"].metrics, location_run["lira"].metrics
    assert loss.auc.mean > 0.5 and lira.auc.mean > 0.5
    assert lira.tpr_at_fpr["0.01"].mean > loss.tpr_at_fpr["0.01"].mean
    # Not a fluke of the averaging: LiRA wins on the lower end of its confidence interval too.
    assert lira.tpr_at_fpr["0.01"].ci95[0] > loss.tpr_at_fpr["0.01"].ci95[1]


def test_on_real_models_online_lira_beats_offline_at_low_fpr(location_run):
    lira, offline = location_run["lira"].metrics, location_run["lira-offline"].metrics
    assert lira.tpr_at_fpr["0.01"].mean > offline.tpr_at_fpr["0.01"].mean
    assert location_run["lira"].attack.params["online"] is True
    assert location_run["lira-offline"].attack.params["online"] is False
