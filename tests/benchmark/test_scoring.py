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
