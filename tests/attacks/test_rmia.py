"""RMIA: its score from the definition, the tuning of offline_a, and its edge over LOSS on real models."""

import numpy as np
import pytest

import miabench
from miabench.api import AttackView
from miabench.attacks.rmia import A_GRID, relative_scores
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
