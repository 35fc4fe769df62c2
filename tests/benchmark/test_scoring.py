"""Leave-one-out scoring: what an attack sees of each target (never its membership) and at which access level."""

from dataclasses import dataclass

import numpy as np
import pytest

from miabench import scoring
from miabench.api import ACCESS_LEVELS, Attack, ThreatModel
from miabench.errors import UserError


def test_an_attack_never_sees_the_target_membership(synthetic_cube):
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
    assert ACCESS_LEVELS == ("label", "scores", "logits")  # from the least an attacker sees to the most
    logits = np.array([[2.0, 1.0, 0.0]])
    np.testing.assert_allclose(np.exp(scoring.observe(logits, "scores")).sum(-1), 1.0)
    assert np.array_equal(scoring.observe(logits, "label"), [[1.0, 0.0, 0.0]])
    assert scoring.observe(logits, "logits") is logits


def test_non_finite_scores_from_an_attack_are_a_clear_error(synthetic_cube):
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


def test_an_attack_may_score_every_target_at_once(synthetic_cube):
    calls = []

    @dataclass
    class Centred(Attack):
        """The target's log-odds minus the references' mean: per target, or for all at once from the totals."""

        def threat_model(self):
            return ThreatModel(access="logits")

        def statistic(self, outputs, labels):
            return outputs[..., 0, 1].astype(np.float64)  # [K, N]

        def score(self, view):
            calls.append("score")
            return view.target - view.references.mean(axis=0)

        def score_all(self, statistic, labels, plan):
            calls.append("score_all")
            total, others = statistic.sum(axis=0), [plan.references(k) for k in range(plan.num_models)]
            left_out = [np.delete(statistic, refs, axis=0).sum(axis=0) for refs in others]
            return np.stack([statistic[k] - (total - left_out[k]) / len(refs) for k, refs in enumerate(others)])

    class Querying(Centred):
        def threat_model(self):
            return ThreatModel(access="logits", queries=1)

    logits, labels, plan = synthetic_cube(models=6, examples=30, auxiliary=5)
    attack, querying = Centred(), Querying()
    attack.name, querying.name = "centred", "querying"
    at_once = scoring.leave_one_out(attack, logits, labels, plan)
    one_by_one = scoring.leave_one_out(attack, logits, labels, plan, per_target=True)
    assert calls == ["score_all"] + ["score"] * 6
    assert np.allclose(at_once.scores, one_by_one.scores, rtol=1e-12, atol=1e-12)
    assert at_once.chosen is None and at_once.queries == 0
    calls.clear()
    scoring.leave_one_out(querying, logits, labels, plan)  # an attack that queries: target by target, with its oracle
    assert calls == ["score"] * 6


def test_scores_for_too_few_targets_at_once_are_a_clear_error(synthetic_cube):
    @dataclass
    class Short(Attack):
        def threat_model(self):
            return ThreatModel(access="scores")

        def score_all(self, statistic, labels, plan):
            return np.zeros((plan.num_models - 1, len(labels)))

    short = Short()
    short.name = "short"
    with pytest.raises(UserError, match="one row per model"):
        scoring.leave_one_out(short, *synthetic_cube(models=4, examples=10))
