"""LiRA, online and offline: per-example calibration, its need for references, its two variants, the merged
moments every target's fit comes from, and its edge on real models."""

import numpy as np
import pytest

from miabench import scoring
from miabench.attacks.lira import SideMoments, gaussian, moments
from miabench.errors import UserError
from miabench.plan import MembershipPlan
from miabench.registry import attacks


def test_lira_calibrates_per_example_difficulty_that_loss_cannot(synthetic_cube, mean_auc):
    cube = synthetic_cube()
    loss, online, offline = (mean_auc(name, cube) for name in ("loss", "lira", "lira-offline"))
    assert 0.5 < loss < 0.7
    assert online > 0.9 and offline > 0.85
    assert online > offline
    assert mean_auc("lira", cube, fixed_variance=True) > 0.9


@pytest.mark.parametrize("variant", ["paper", "reference"])
def test_online_lira_refuses_too_few_references(synthetic_cube, variant):
    logits, labels, plan = synthetic_cube(models=2, examples=20)
    for name in ("lira", "lira-offline"):
        with pytest.raises(UserError, match="reference model"):
            scoring.leave_one_out(attacks.create(name, {"variant": variant}), logits, labels, plan)
    logits, labels, plan = synthetic_cube(models=4, examples=20)  # the smallest K that works
    for name in ("lira", "lira-offline"):
        scores = scoring.leave_one_out(attacks.create(name, {"variant": variant}), logits, labels, plan).scores
        assert np.isfinite(scores).all()


def test_the_reference_variant_calibrates_too_and_differs_from_the_paper(synthetic_cube, mean_auc):
    cube = synthetic_cube(auxiliary=40)
    for name in ("lira", "lira-offline"):
        for fixed in (False, True):
            assert mean_auc(name, cube, variant="reference", fixed_variance=fixed) > 0.85
    logits, labels, plan = cube
    paper, reference = (scoring.leave_one_out(attacks.create("lira", {"variant": v}), logits, labels, plan).scores
                        for v in ("paper", "reference"))  # fmt: skip
    assert not np.allclose(paper, reference)
    with pytest.raises(UserError, match="variant"):
        attacks.create("lira-offline", {"variant": "tensorflow"})


@pytest.mark.parametrize("paired", [True, False])
def test_merged_moments_equal_each_targets_references_own(synthetic_cube, paired):
    logits, labels, plan = synthetic_cube(models=8, examples=60, auxiliary=6)
    if not paired:  # model 0 trains on every challenge example: no pairs, every model but the target is a reference
        plan = MembershipPlan(np.vstack([plan.challenge, plan.members[1:]]))
        assert not plan.paired and len(plan.references(0)) == 7
    phi = attacks.create("lira").statistic(scoring.observe(logits, "scores"), labels)
    for mask in (plan.members[:, :, None], ~plan.members[:, :, None]):
        merged = SideMoments(phi, mask)
        for target in range(8):
            references = plan.references(target)
            left_out = np.setdiff1d(np.arange(8), references)
            (count, mean, squares), own = merged.without(left_out), moments(phi[references], mask[references])
            assert np.array_equal(count, own[0])
            assert np.allclose(mean, own[1], rtol=1e-13, atol=1e-13)
            assert np.allclose(squares, own[2], rtol=1e-12, atol=1e-12)
            pooled, own_pooled = (
                gaussian(*m, True, np.zeros(60, bool), "IN")[1] for m in ((count, mean, squares), own)
            )
            assert np.allclose(pooled, own_pooled, rtol=1e-13, atol=0)  # the fixed variance too


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
