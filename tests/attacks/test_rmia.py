"""RMIA: its score from the definition, the balanced online Pr(x), the tuning of offline_a, the optional
tie-break, and its edge over LOSS on real models."""

import numpy as np
import pytest

import miabench
from miabench import scoring
from miabench.api import AttackView
from miabench.attacks.rmia import A_GRID, online_prior, relative_scores
from miabench.errors import UserError
from miabench.plan import MembershipPlan
from miabench.registry import attacks


def brute_force(target, prior, auxiliary, gamma):
    """RMIA's score from its definition: the N x Z matrix of likelihood ratios."""
    ratio = target / prior
    with np.errstate(divide="ignore", invalid="ignore"):  # ratio_z = 0: x / 0 is inf (> gamma), 0 / 0 nan (not)
        return (ratio[:, None] / ratio[auxiliary][None, :] > gamma).mean(axis=1)


def test_rmia_search_equals_the_brute_force_count_with_ties():
    rng = np.random.default_rng(0)
    n = 300
    target = rng.choice([0.0, 0.1, 0.2, 0.4, 0.8], n)  # few values: many equal ratios, some zero
    prior = rng.choice([0.2, 0.4, 0.8], n)
    auxiliary = rng.random(n) < 0.3
    for gamma in (0.5, 1.0, 2.0):
        expected = brute_force(target, prior, auxiliary, gamma)
        np.testing.assert_array_equal(relative_scores(target, prior, auxiliary, gamma), expected)
        assert 0 < expected.mean() < 1
    ratio = target / prior
    tied = ratio[:, None] == ratio[auxiliary][None, :]
    assert tied.any(axis=1).mean() > 0.5  # the case really holds ties


def random_view(references=6, examples=200, seed=1):
    rng = np.random.default_rng(seed)
    plan = MembershipPlan.balanced(references + 2, examples, seed, auxiliary=examples // 4)
    p_y = rng.random((references + 2, examples))
    refs = np.arange(2, references + 2)
    return AttackView(p_y[0], np.zeros(examples, int), p_y[refs], plan.members[refs], ~plan.challenge)


@pytest.mark.parametrize("online", [False, True])
def test_rmia_score_follows_its_definition(online):
    view = random_view()
    attack = attacks.create("rmia", {"online": online, "offline_a": 0.4, "gamma": 1.5})
    if online:
        prior = view.references.mean(axis=0)
    else:
        out = ~view.reference_members
        mean_out = (view.references * out).sum(axis=0) / out.sum(axis=0)
        prior = 0.5 * (1.4 * mean_out + 0.6)
    np.testing.assert_array_equal(attack.score(view), brute_force(view.target, prior, view.auxiliary, 1.5))


def test_rmia_online_prior_on_the_paired_plan_is_the_plain_mean_it_was():
    # Every challenge example has (K - 2)/2 IN and as many OUT references, every auxiliary one K - 2 OUT.
    rng = np.random.default_rng(2)
    plan = MembershipPlan.balanced(10, 300, 2, auxiliary=60)
    p_y = rng.random((10, 300))
    for target in range(10):
        refs = plan.references(target)
        np.testing.assert_array_equal(online_prior(p_y[refs], plan.members[refs]), p_y[refs].mean(axis=0))


def test_rmia_online_balances_in_and_out_references_on_an_unpaired_plan():
    # Each challenge example is in exactly K/2 of K random models: not a paired plan, so a target's K - 1
    # references hold its members IN K/2 - 1 times and its non-members K/2 times.
    rng = np.random.default_rng(3)
    models, examples, auxiliary = 8, 240, 40
    members = np.zeros((models, examples), dtype=bool)
    for n in range(auxiliary, examples):
        members[rng.permutation(models)[: models // 2], n] = True
    plan = MembershipPlan(members)
    assert not plan.paired and plan.leaks
    p_y = rng.random((models, examples))
    attack = attacks.create("rmia-online")
    for target in range(models):
        refs = plan.references(target)
        ref, ins = p_y[refs], members[refs]
        balanced = np.array([0.5 * (ref[ins[:, n], n].mean() + ref[~ins[:, n], n].mean()) if ins[:, n].any()
                             else ref[:, n].mean() for n in range(examples)])  # fmt: skip
        plain = ref.mean(axis=0)  # the previous Pr(x)
        np.testing.assert_allclose(online_prior(ref, ins), balanced, rtol=1e-14)
        assert not np.allclose(plain[auxiliary:], balanced[auxiliary:])
        view = AttackView(p_y[target], np.zeros(examples, int), ref, ins, ~plan.challenge)
        np.testing.assert_array_equal(attack.score(view), brute_force(p_y[target], balanced, view.auxiliary, 1.0))
    # The plain mean leaks: with IN outputs 0.9 and OUT outputs 0.3, it is lower on the target's members
    # (fewer IN references) whatever the target outputs; the balanced Pr(x) is 0.6 on every challenge example.
    p_y = np.where(members, 0.9, 0.3)
    refs = plan.references(0)
    plain, prior = p_y[refs].mean(axis=0), online_prior(p_y[refs], members[refs])
    is_member, challenge = members[0], plan.challenge
    assert plain[is_member].max() < plain[challenge & ~is_member].min()
    np.testing.assert_allclose(prior[challenge], 0.6, rtol=1e-15)


def test_rmia_tie_break_orders_the_tied_fractions_by_ratio_x():
    # One OUT reference with p_y = 1 and offline_a = 1: Pr(x) = 1, so ratio = the target's p_y.
    ratio = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.5, 0.25, 0.1])  # the first three are the population z
    auxiliary = np.arange(8) < 3
    view = AttackView(ratio, np.zeros(8, int), np.ones((1, 8)), np.zeros((1, 8), bool), auxiliary)
    fraction = [0, 1 / 3, 2 / 3, 1, 1, 1, 2 / 3, 0]  # of z = {0.1, 0.2, 0.3} strictly below each ratio
    np.testing.assert_array_equal(attacks.create("rmia", {"offline_a": 1.0}).score(view), fraction)
    broken = attacks.create("rmia", {"offline_a": 1.0, "tie_break": True}).score(view)
    # Each fraction rises by (the gap 1/3) x (the rank of its ratio among the 6 distinct ratios) / 6.
    rank = np.array([0, 1, 3, 4, 5, 5, 2, 0])
    np.testing.assert_allclose(broken, np.array(fraction) + rank / 18, rtol=1e-15)
    assert broken[6] < broken[2] and broken[3] < broken[4] == broken[5]  # ties broken where the ratios differ
    assert broken[0] == broken[7]  # equal ratios stay tied
    assert (np.floor(broken * 3 + 1e-9) / 3 == np.array(fraction)).all()  # every score stays on its level


def test_rmia_tie_break_is_off_by_default_and_keeps_the_ranking_between_levels(synthetic_cube):
    logits, labels, plan = synthetic_cube(models=8, examples=300, auxiliary=60)
    assert not attacks.create("rmia").tie_break
    plain = scoring.leave_one_out(attacks.create("rmia", {"offline_a": 0.5}), logits, labels, plan).scores
    attack = attacks.create("rmia", {"offline_a": 0.5, "tie_break": True})
    broken = scoring.leave_one_out(attack, logits, labels, plan).scores
    levels = 1 / 60  # 60 population z: the fraction's gap
    assert ((broken - plain >= 0) & (broken - plain < levels)).all()
    for row_plain, row_broken in zip(plain, broken):
        assert len(np.unique(row_broken)) > len(np.unique(row_plain))
        assert (np.diff(row_plain[np.argsort(row_broken, kind="stable")]) >= 0).all()  # no level overtakes


def test_rmia_separates_members_online_and_offline(synthetic_cube, mean_auc):
    cube = synthetic_cube(models=16, examples=500, auxiliary=150)
    online, offline = mean_auc("rmia-online", cube), mean_auc("rmia", cube)
    assert online > 0.8 and offline > 0.8
    # Tuning a on the references does at least as well as the extreme a = 0 it could have picked.
    assert offline >= mean_auc("rmia", cube, offline_a=0.0)


def test_rmia_tunes_offline_a_on_the_references_alone():
    view = random_view(references=8, examples=400)
    attack = attacks.create("rmia")
    chosen = attack.tune(view.references, view.reference_members, view.auxiliary)
    assert 0.0 <= chosen <= 1.0 and chosen in A_GRID
    assert attack.tune(view.references, view.reference_members, view.auxiliary) == chosen
    # The score with a tuned is the score with that a fixed, and it does not depend on the target.
    fixed = attacks.create("rmia", {"offline_a": chosen})
    np.testing.assert_array_equal(attack.score(view), fixed.score(view))
    # A single reference leaves nothing to tune on: the documented fallback a = 1.
    assert attack.tune(view.references[:1], view.reference_members[:1], view.auxiliary) == 1.0


def test_rmia_threat_model():
    offline, online = attacks.create("rmia").threat_model(), attacks.create("rmia-online").threat_model()
    assert (offline.access, offline.auxiliary, offline.online, offline.min_references) == ("scores", True, False, 1)
    assert (online.access, online.auxiliary, online.online, online.min_references) == ("scores", True, True, 2)
    with pytest.raises(UserError, match="offline_a"):
        attacks.create("rmia", {"offline_a": "1.5"})


def test_on_real_models_rmia_with_two_references_beats_loss_at_low_fpr(data_dir, tmp_path):
    results = miabench.evaluate(
        task="location", attacks=["loss", "rmia"], models=4, data_dir=data_dir, out=tmp_path / "out",
        cache_dir=tmp_path / "cache", progress=False,
    )  # fmt: skip
    loss, rmia = results["loss"].metrics, results["rmia"].metrics
    assert rmia.tpr_at_fpr["0.01"].mean > loss.tpr_at_fpr["0.01"].mean


def test_on_real_models_rmia_beats_loss_quickly(location_run, data_dir, tmp_path):
    (rmia,) = miabench.evaluate(
        task="location", attacks=["rmia"], models=16, data_dir=data_dir, out=tmp_path / "out",
        cache_dir=location_run["root"] / "cache", progress=False,
    )  # fmt: skip
    assert rmia.timings.attack_seconds < 10
    assert rmia.metrics.auc.mean > location_run["loss"].metrics.auc.mean


def test_rmia_without_auxiliary_examples_is_refused_before_training(tmp_path):
    with pytest.raises(UserError, match="auxiliary") as refused:
        miabench.evaluate(
            task="location", attacks=["rmia"], models=4, params={"auxiliary_fraction": "0"}, out=tmp_path / "out",
            cache_dir=tmp_path / "cache", progress=False,
        )  # fmt: skip
    assert "\n" not in str(refused.value)
    assert not (tmp_path / "cache").exists() and not (tmp_path / "out").exists()
