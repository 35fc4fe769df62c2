"""Attack-R: the target's loss against the percentiles of the OUT references' losses on each example; its
ties, the reference code's thresholds, and its written formula computed one example at a time."""

import math

import numpy as np
import pytest

from miabench import citations, scoring
from miabench.api import AttackView
from miabench.errors import UserError
from miabench.plan import MembershipPlan
from miabench.registry import attacks


def view_of(target, references, members, auxiliary):
    return AttackView(np.array(target), np.zeros(len(target), int), np.array(references), np.array(members),
                      np.array(auxiliary))  # fmt: skip


LOWER = {"percentile": "lower"}


def test_attack_r_lower_scores_the_share_of_out_losses_above_the_targets():
    losses = [[2.0, 0.3, 1.0], [1.0, 0.4, 1.0], [0.5, 0.1, 1.0], [3.0, 0.5, 1.0]]  # four references' losses
    members = [[False, True, False], [False, False, False], [False, False, False], [True, False, False]]
    view = view_of([1.0, 0.2, 0.0], losses, members, [False, False, True])
    # Example 0: OUT losses {2, 1, 0.5} against 1: only 2 is above (the equal 1 counts against membership).
    # Example 1: OUT losses {0.4, 0.1, 0.5} against 0.2: two above. Example 2 (auxiliary): all four above.
    np.testing.assert_array_equal(attacks.create("attack-r", LOWER).score(view), [1 / 3, 2 / 3, 1.0])


def test_attack_r_linear_is_the_level_at_which_the_papers_interpolated_quantile_is_the_loss():
    losses = [[2.0, 0.3, 1.0], [1.0, 0.4, 1.0], [0.5, 0.1, 1.0], [3.0, 0.5, 1.0]]
    members = [[False, True, False], [False, False, False], [False, False, False], [True, False, False]]
    view = view_of([1.0, 0.2, 0.0], losses, members, [False, False, True])
    # Example 0: OUT losses {0.5, 1, 2} with dummies 0 and 1000: 1.0 sits at position 2 of 0..4, level 1/2.
    # Example 1: {0.1, 0.4, 0.5} + dummies: 0.2 sits a third of the way from 0.1 (position 1) to 0.4: level 4/12.
    # Example 2 (auxiliary, four OUT losses of 1.0 + dummies): 0.0 is the dummy minimum, level 0.
    np.testing.assert_allclose(attacks.create("attack-r").score(view), [1 / 2, 1 - 4 / 12, 1.0])


def test_attack_r_lower_decisions_are_the_reference_codes_percentile_thresholds():
    # The reference code says member at FPR alpha when the loss is below np.quantile(OUT losses, alpha,
    # "lower"); on a paired plan, for every alpha, those are the candidates above some threshold of the score.
    rng = np.random.default_rng(0)
    plan = MembershipPlan.balanced(16, 400, 0, auxiliary=40)
    losses = rng.integers(0, 12, (16, 400)) / 4  # few values: many ties
    refs, challenge = plan.references(0), plan.challenge
    view = view_of(losses[0], losses[refs], plan.members[refs], ~challenge)
    scores = attacks.create("attack-r", LOWER).score(view)[challenge]
    out = [losses[refs][~plan.members[refs][:, n], n] for n in np.flatnonzero(challenge)]
    assert {len(o) for o in out} == {7}
    splits = 0
    for alpha in np.linspace(0, 1, 101):
        member = losses[0][challenge] < np.array([np.quantile(o, alpha, method="lower") for o in out])
        if member.any() and not member.all():
            assert scores[member].min() > scores[~member].max(), alpha
            splits += 1
    assert splits > 50


def test_attack_r_linear_decisions_are_the_papers_interpolated_thresholds():
    rng = np.random.default_rng(0)
    plan = MembershipPlan.balanced(16, 400, 0, auxiliary=40)
    losses = rng.exponential(1.0, (16, 400))
    refs, challenge = plan.references(0), plan.challenge
    view = view_of(losses[0], losses[refs], plan.members[refs], ~challenge)
    scores = attacks.create("attack-r").score(view)[challenge]
    out = [np.append(losses[refs][~plan.members[refs][:, n], n], [0, 1000]) for n in np.flatnonzero(challenge)]
    for alpha in np.linspace(0.001, 0.2, 40):  # low FPRs too: the dummies make every level reachable
        member = losses[0][challenge] < np.array([np.quantile(o, alpha) for o in out])
        assert np.array_equal(member, scores > 1 - alpha), alpha


@pytest.mark.parametrize("percentile", ["linear", "lower"])
def test_attack_r_refuses_an_example_without_out_reference(percentile):
    view = view_of([1.0, 1.0], [[2.0, 2.0], [2.0, 2.0]], [[True, False], [True, True]], [False, False])
    with pytest.raises(UserError, match="did not train") as error:
        attacks.create("attack-r", {"percentile": percentile}).score(view)
    assert "\n" not in str(error.value)


def test_attack_r_calibrates_per_example_difficulty_that_loss_cannot(synthetic_cube, mean_auc):
    cube = synthetic_cube()
    loss, attack_r = mean_auc("loss", cube), mean_auc("attack-r", cube)
    assert loss < 0.7 and attack_r > 0.8


def test_attack_r_cites_ye_et_al_and_reference_stays_watsons_calibration():
    attack_r, reference = attacks.create("attack-r"), attacks.create("reference")
    assert attack_r.citation == ("ye2022enhanced",) and "Attack-R" in attack_r.description
    assert reference.citation == ("watson2022importance",) and "Attack-R" not in reference.description
    assert {"ye2022enhanced", "watson2022importance"} <= set(citations.entries())


MODELS, EXAMPLES, AUXILIARY, CLASSES = 8, 50, 10, 3


def golden(logits, labels, plan, percentile):
    """[K][N] from the written formula: 1 - the interpolated level of the target's loss among the OUT losses
    and the dummies 0 and 1000 (linear), or the share of OUT references whose loss is above the target's (lower)."""
    loss = [[0.0] * EXAMPLES for _ in range(MODELS)]
    for k in range(MODELS):
        for n in range(EXAMPLES):
            row = logits[k, n, 0].tolist()
            top = max(row)
            loss[k][n] = top + math.log(sum(math.exp(v - top) for v in row)) - row[labels[n]]
    scores = []
    for k in range(MODELS):
        refs = [r for r in range(MODELS) if r != k and not (plan.paired and r == k ^ 1)]
        row = []
        for n in range(EXAMPLES):
            out = [loss[r][n] for r in refs if not plan.members[r, n]]
            if percentile == "lower":
                row.append(sum(value > loss[k][n] for value in out) / len(out))
                continue
            points = sorted([0.0, *out, 1000.0])
            j = max(i for i in range(len(points) - 1) if points[i] <= loss[k][n])  # its segment
            step = (loss[k][n] - points[j]) / (points[j + 1] - points[j]) if points[j + 1] > points[j] else 0.0
            row.append(1 - (j + step) / (len(points) - 1))
        scores.append(row)
    return scores


@pytest.mark.parametrize("percentile", ["linear", "lower"])
@pytest.mark.parametrize("plan_name", ["paired", "unpaired"])
def test_attack_r_matches_its_written_formula(plan_name, percentile, plans):
    plan = plans(MODELS, EXAMPLES, AUXILIARY)[plan_name]
    assert plan.paired == (plan_name == "paired")
    rng = np.random.default_rng(1)
    labels = rng.integers(0, CLASSES, EXAMPLES)
    logits = rng.normal(0, 2, (1, EXAMPLES, 2, CLASSES)) + rng.normal(0, 0.5, (MODELS, EXAMPLES, 2, CLASSES))
    logits += plan.members[:, :, None, None] * np.eye(CLASSES)[labels][None, :, None, :]  # a second view, unused
    got = scoring.leave_one_out(attacks.create("attack-r", {"percentile": percentile}), logits, labels, plan).scores
    np.testing.assert_allclose(got, golden(logits, labels, plan, percentile), rtol=0, atol=1e-12)
    assert 0 < got.mean() < 1
