"""LOSS and LiRA: their statistics, their threat model, and their ordering on real models."""

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from miabench import scoring
from miabench.api import Attack, AttackView, ThreatModel
from miabench.attacks.common import logit_scaled_confidence
from miabench.errors import UserError
from miabench.metrics import auc
from miabench.plan import MembershipPlan
from miabench.registry import attacks


def synthetic_cube(models=16, examples=400, seed=0, auxiliary=0):
    """Two-class logits whose log-odds phi = difficulty + 1.5 * member + noise.

    Difficulty varies across examples far more than membership moves phi, so a
    global loss threshold is weak and per-example calibration (LiRA) is strong.
    """
    rng = np.random.default_rng(seed)
    plan = MembershipPlan.balanced(models, examples, seed, auxiliary)
    members = plan.members
    difficulty = rng.normal(0, 4, examples)
    phi = difficulty + 1.5 * members + rng.normal(0, 0.5, members.shape)
    logits = np.zeros((models, examples, 1, 2), np.float32)
    logits[..., 0, 1] = phi
    return logits, np.ones(examples, np.int64), plan


def mean_auc(name, cube, **params):
    logits, labels, plan = cube
    attack = attacks.create(name, params)
    scores = scoring.leave_one_out(attack, logits, labels, plan).scores
    return np.mean([auc(scores[k], plan.members[k]) for k in range(len(scores))])


def test_loss_is_minus_cross_entropy_on_the_identity_view():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 2, 4))
    labels = rng.integers(0, 4, 50)
    loss = attacks.create("loss")
    statistic = loss.statistic(scoring.observe(logits[None], "scores"), labels)
    view = AttackView(statistic[0], labels, statistic, np.ones((1, 50), bool), np.zeros(50, bool))
    expected = -torch.nn.functional.cross_entropy(torch.tensor(logits[:, 0]), torch.tensor(labels), reduction="none")
    np.testing.assert_allclose(loss.score(view), expected.numpy(), rtol=1e-6)


def test_logit_scaled_confidence_is_the_log_odds_of_the_true_class():
    probs = np.array([[[0.7, 0.2, 0.1]], [[0.05, 0.05, 0.9]]])
    phi = logit_scaled_confidence(np.log(probs), np.array([0, 2]))
    np.testing.assert_allclose(phi[:, 0], np.log([0.7 / 0.3, 0.9 / 0.1]))


def test_lira_calibrates_per_example_difficulty_that_loss_cannot():
    cube = synthetic_cube()
    loss, online, offline = (mean_auc(name, cube) for name in ("loss", "lira", "lira-offline"))
    assert 0.5 < loss < 0.7
    assert online > 0.9 and offline > 0.85
    assert online > offline
    assert mean_auc("lira", cube, fixed_variance=True) > 0.9


def test_an_attack_never_sees_the_target_membership():
    seen = []

    @dataclass
    class Spy(Attack):
        def threat_model(self):
            return ThreatModel(access="logits")

        def score(self, view):
            seen.append(view)
            return np.zeros(len(view.labels))

    spy = Spy()
    spy.name = "spy"
    logits, labels, plan = synthetic_cube(models=6, examples=30, auxiliary=5)
    scoring.leave_one_out(spy, logits, labels, plan)
    assert len(seen) == 6
    for target, view in enumerate(seen):
        assert not hasattr(view, "members") and not hasattr(view, "target_members")
        others = [k for k in range(6) if k not in (target, target ^ 1)]  # the target's pair partner is left out
        assert np.array_equal(view.reference_members, plan.members[others])
        assert np.array_equal(view.target, logits[target])
        assert view.references.shape == (4, 30, 1, 2)
        assert view.auxiliary.sum() == 5 and not plan.members[:, view.auxiliary].any()
        # What the attacker sees is the same whether the target is IN or OUT on an example.
        assert (view.reference_members[:, ~view.auxiliary].sum(axis=0) == 2).all()


def test_access_levels_limit_what_the_attacker_sees():
    logits = np.array([[2.0, 1.0, 0.0]])
    np.testing.assert_allclose(np.exp(scoring.observe(logits, "scores")).sum(-1), 1.0)
    assert np.array_equal(scoring.observe(logits, "label"), [[1.0, 0.0, 0.0]])
    assert scoring.observe(logits, "logits") is logits


def test_online_lira_refuses_too_few_references():
    logits, labels, plan = synthetic_cube(models=2, examples=20)
    for name in ("lira", "lira-offline"):
        with pytest.raises(UserError, match="reference model"):
            scoring.leave_one_out(attacks.create(name), logits, labels, plan)
    logits, labels, plan = synthetic_cube(models=4, examples=20)  # the smallest K that works
    for name in ("lira", "lira-offline"):
        assert np.isfinite(scoring.leave_one_out(attacks.create(name), logits, labels, plan).scores).all()


def test_non_finite_scores_from_an_attack_are_a_clear_error():
    @dataclass
    class Broken(Attack):
        def threat_model(self):
            return ThreatModel(access="scores")

        def score(self, view):
            return np.full(len(view.labels), np.nan)

    broken = Broken()
    broken.name = "broken"
    with pytest.raises(UserError, match="NaN"):
        scoring.leave_one_out(broken, *synthetic_cube(models=4, examples=10))


def test_on_real_models_lira_beats_loss_at_low_fpr(location_run):
    loss, lira = location_run["loss"]["metrics"], location_run["lira"]["metrics"]
    assert loss["auc"]["mean"] > 0.5 and lira["auc"]["mean"] > 0.5
    assert lira["tpr_at_fpr"]["0.01"]["mean"] > loss["tpr_at_fpr"]["0.01"]["mean"]
    # Not a fluke of the averaging: LiRA wins on the lower end of its confidence interval too.
    assert lira["tpr_at_fpr"]["0.01"]["ci95"][0] > loss["tpr_at_fpr"]["0.01"]["ci95"][1]
