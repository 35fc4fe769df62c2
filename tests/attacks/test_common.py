"""What several attacks share: the logit-scaled confidence, log p_y and the mean over OUT references."""

import numpy as np
import pytest
from scipy.special import log_softmax, logsumexp

from miabench import scoring
from miabench.api import AttackView
from miabench.attacks import common
from miabench.attacks.common import logit_scaled_confidence, out_mean
from miabench.errors import UserError
from miabench.plan import MembershipPlan
from miabench.registry import attacks


def test_logit_scaled_confidence_is_the_log_odds_of_the_true_class():
    probs = np.array([[[0.7, 0.2, 0.1]], [[0.05, 0.05, 0.9]]])
    phi = logit_scaled_confidence(np.log(probs), np.array([0, 2]))
    np.testing.assert_allclose(phi[:, 0], np.log([0.7 / 0.3, 0.9 / 0.1]))


def direct_phi(log_probs, labels):
    """phi over the whole array at once, as miabench computed it before the blockwise form."""
    is_true = np.arange(log_probs.shape[-1]) == labels[:, None, None]
    true = np.where(is_true, log_probs, -np.inf).max(axis=-1)
    return true - logsumexp(np.where(is_true, -np.inf, log_probs), axis=-1)


def extreme_log_probs(seed=0):
    """[2, 3, N, 2, 4] log-probabilities with ordinary rows, p_y within 1e-300 of 1, p_y of 1e-300, and a
    class of probability exactly 0; labels [N]."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, 50)
    logits = rng.normal(0, 3, (2, 3, 50, 2, 4))
    logits[..., :5, :, :] += 700 * np.eye(4)[labels[:5]][:, None, :]  # the others at about e^-700
    logits[..., 5:10, :, :] -= 700 * np.eye(4)[labels[5:10]][:, None, :]
    log_probs = log_softmax(logits, axis=-1)
    log_probs[..., np.arange(10, 15), :, (labels[10:15] + 1) % 4] = -np.inf
    return log_probs, labels


def test_logit_scaled_confidence_in_blocks_equals_the_direct_formula(monkeypatch):
    log_probs, labels = extreme_log_probs()
    monkeypatch.setattr(common, "BLOCK", 7)  # several blocks, the last one short
    phi = logit_scaled_confidence(log_probs, labels)
    assert phi.shape == (2, 3, 50, 2) and phi.dtype == np.float64
    np.testing.assert_allclose(phi, direct_phi(log_probs, labels), rtol=1e-15, atol=1e-12)
    assert (phi[..., :5, :] > 600).all() and (phi[..., 5:10, :] < -600).all()
    np.testing.assert_array_equal(logit_scaled_confidence(log_probs[0, 0], labels), phi[0, 0])  # no leading axes


def test_logit_scaled_confidence_of_a_class_alone_is_infinite_as_log_sum_exp_says():
    log_probs = np.array([[[0.0, -np.inf]], [[np.log(0.5), np.log(0.5)]]])
    phi = logit_scaled_confidence(log_probs, np.array([0, 0]))
    np.testing.assert_array_equal(phi[:, 0], [np.inf, 0.0])


def test_true_class_log_prob_picks_the_label_exactly():
    log_probs, labels = extreme_log_probs()
    got = common.true_class_log_prob(log_probs, labels)
    np.testing.assert_array_equal(got, np.where(common.true_class_mask(log_probs, labels), log_probs, -np.inf).max(-1))


@pytest.mark.parametrize("name", ["lira", "lira-offline"])
def test_lira_scores_from_the_blockwise_phi_equal_those_from_the_direct_formula(name):
    plan = MembershipPlan.balanced(8, 300, 0, auxiliary=30)
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 5, 300)
    logits = rng.normal(0, 2, (1, 300, 2, 5)) + rng.normal(0, 0.5, (8, 300, 2, 5))
    logits += plan.members[:, :, None, None] * np.eye(5)[labels][None, :, None, :]
    attack = attacks.create(name)
    now = scoring.leave_one_out(attack, logits, labels, plan).scores
    phi, auxiliary = direct_phi(scoring.observe(logits, "scores"), labels), ~plan.challenge
    views = [AttackView(phi[k], labels, phi[plan.references(k)], plan.members[plan.references(k)], auxiliary)
             for k in range(8)]  # fmt: skip
    np.testing.assert_allclose(now, [attack.score(view) for view in views], rtol=1e-9, atol=1e-9)


def test_out_mean_averages_the_references_that_did_not_train_on_each_example():
    rng = np.random.default_rng(0)
    references = rng.normal(size=(5, 40))
    members = rng.random((5, 40)) < 0.5
    members[4] = False  # every example has an OUT reference...
    members[:, 0] = [True, True, True, True, False]  # ...example 0 a single one
    members[:, 1] = True  # no OUT reference: allowed, since example 1 is not needed
    needed = np.arange(40) != 1
    got = out_mean(references, members, needed, "spy")
    # The definition, one example at a time.
    expected = [references[~members[:, n], n].mean() for n in np.flatnonzero(needed)]
    np.testing.assert_allclose(got[needed], expected, rtol=1e-12)
    assert got[0] == references[4, 0]
    assert np.isfinite(got[1])  # not NaN, though meaningless: nobody reads it


def test_out_mean_refuses_a_needed_example_without_an_out_reference():
    references = np.zeros((2, 3))
    members = np.array([[True, False, True], [True, True, False]])  # example 0 is IN in both references
    with pytest.raises(UserError, match="attack 'spy' needs at least one reference model") as refused:
        out_mean(references, members, np.ones(3, bool), "spy")
    assert "1 have none" in str(refused.value) and "\n" not in str(refused.value)
    # The same example is fine when it is not needed (e.g. auxiliary).
    assert out_mean(references, members, np.array([False, True, True]), "spy").shape == (3,)
