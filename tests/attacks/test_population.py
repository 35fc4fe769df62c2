"""Attack-P: per-class percentiles against the auxiliary (known non-member) examples, and the rules for
classes with too few of them to reach the smallest reported FPR."""

import numpy as np
import pytest

import miabench
from miabench import scoring
from miabench.attacks.population import MIN_AUXILIARY
from miabench.errors import UserError
from miabench.metrics import auc, tpr_at_fpr
from miabench.plan import MembershipPlan
from miabench.registry import attacks


def class_cube(models=8, examples=900, auxiliary=300, seed=0):
    """Three classes of very different difficulty; members get +1.5 on the true-class logit."""
    rng = np.random.default_rng(seed)
    plan = MembershipPlan.balanced(models, examples, seed, auxiliary)
    labels = rng.integers(0, 3, examples)
    true_logit = np.array([-3.0, 0.0, 3.0])[labels] + 1.5 * plan.members + rng.normal(0, 0.7, plan.members.shape)
    logits = np.zeros((models, examples, 1, 3))
    logits[:, np.arange(examples), 0, labels] = true_logit
    return logits, labels, plan


def test_population_ranks_members_by_per_class_percentiles(mean_auc):
    logits, labels, plan = class_cube()  # about 100 auxiliary examples a class: per-class only if asked
    scores = scoring.leave_one_out(attacks.create("population", {"small_classes": "per-class"}), logits, labels, plan)
    scores = scores.scores
    assert ((scores >= 0) & (scores <= 1)).all()
    challenge = plan.challenge
    population = np.mean([auc(s[challenge], m[challenge]) for s, m in zip(scores, plan.members)])
    assert population > 0.6
    # Per-class thresholds undo the classes' different difficulty, which one global threshold cannot.
    assert population > mean_auc("loss", (logits, labels, plan)) + 0.05


def test_population_compares_only_with_auxiliary_examples_of_the_same_class(score_one):
    log_p = np.array([-3.0, -1.0, -0.5, -0.2, -0.1, -2.0, -1.0, -0.3, -0.15])
    labels = np.array([0, 0, 1, 1, 1, 0, 0, 1, 2])
    auxiliary = np.arange(9) < 5
    log_probs = np.repeat(np.log1p(-np.exp(log_p)) - np.log(2), 3).reshape(9, 1, 3)  # the rest split evenly
    log_probs[np.arange(9), 0, labels] = log_p
    scores = score_one("population", log_probs, labels, auxiliary, small_classes="per-class")
    # Class 0's auxiliary values are {-3, -1}: -2 beats one of two; -1 ties one (1/2) and beats one.
    # Against all five auxiliary values they would score 1/5 and 1.5/5 instead.
    np.testing.assert_allclose(scores[5:7], [0.5, 0.75])
    # Class 1's are {-0.5, -0.2, -0.1}: -0.3 beats one (3/5 against all five).
    # Class 2 has none, so all five serve: -0.15 beats four.
    np.testing.assert_allclose(scores[7:], [1 / 3, 0.8])


def two_class_case():
    """log-probabilities [8, 1, 2] and labels: two auxiliary examples per class, then four candidates."""
    log_p = np.array([-2.0, -1.5, -0.4, -0.3, -0.5, -1.0, -0.1, -0.35])
    labels = np.array([0, 0, 1, 1, 0, 0, 1, 1])
    log_probs = np.stack([log_p, np.log1p(-np.exp(log_p))], axis=-1)[:, None, :]
    log_probs[labels == 1] = log_probs[labels == 1][..., ::-1]  # class 1's p_y in column 1
    return log_probs, labels, np.arange(8) < 4


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        # Class 0's auxiliary values are {-2, -1.5}, class 1's {-0.4, -0.3}: three candidates beat both of
        # their class's and tie at the top, where no threshold can tell them apart.
        ("per-class", [1.0, 1.0, 1.0, 0.5]),
        # All four auxiliary values {-2, -1.5, -0.4, -0.3} for every class (each has fewer than MIN_AUXILIARY).
        ("global", [0.5, 0.5, 1.0, 0.75]),
        # Per-class, each raised by (the gap 1/4) x (its log p_y's rank among the 8 distinct values) / 8:
        # -0.5, -1.0, -0.1 and -0.35 are ranks 3, 2, 7 and 5.
        ("tie-break", [1 + 3 / 32, 1 + 2 / 32, 1 + 7 / 32, 0.5 + 5 / 32]),
    ],
)
def test_population_rules_for_small_classes(score_one, rule, expected):
    log_probs, labels, auxiliary = two_class_case()
    scores = score_one("population", log_probs, labels, auxiliary, small_classes=rule)
    np.testing.assert_allclose(scores[4:], expected, rtol=1e-15)
    if rule == "tie-break":  # the auxiliary examples' own levels (1/4 and 3/4) rise the same way
        np.testing.assert_allclose(scores[:4], [0.25, 0.75 + 1 / 32, 0.25 + 4 / 32, 0.75 + 6 / 32], rtol=1e-15)


def test_population_default_falls_back_to_one_global_threshold_for_small_classes(score_one):
    assert attacks.create("population").small_classes == "global"
    log_probs, labels, auxiliary = two_class_case()
    default = score_one("population", log_probs, labels, auxiliary)
    np.testing.assert_array_equal(
        default, score_one("population", log_probs, labels, auxiliary, small_classes="global")
    )


def test_population_pools_only_the_classes_too_small_for_the_smallest_fpr(score_one):
    # Class 0 has MIN_AUXILIARY auxiliary examples and keeps its own percentile; class 1 has three.
    rng = np.random.default_rng(0)
    labels = np.array([0] * (MIN_AUXILIARY + 20) + [1] * 23)
    auxiliary = np.zeros(len(labels), bool)
    auxiliary[:MIN_AUXILIARY] = auxiliary[MIN_AUXILIARY + 20 : MIN_AUXILIARY + 23] = True
    log_p = -rng.exponential(1.0, len(labels))
    log_probs = np.stack([log_p, np.log1p(-np.exp(log_p))], axis=-1)[:, None, :]
    log_probs[labels == 1] = log_probs[labels == 1][..., ::-1]
    per_class = score_one("population", log_probs, labels, auxiliary, small_classes="per-class")
    pooled = score_one("population", log_probs, labels, auxiliary)
    np.testing.assert_array_equal(pooled[labels == 0], per_class[labels == 0])
    in_one = labels == 1
    everyone = np.sort(log_p[auxiliary])
    expected = (np.searchsorted(everyone, log_p[in_one]) + np.searchsorted(everyone, log_p[in_one], "right")) / (
        2 * auxiliary.sum()
    )
    np.testing.assert_array_equal(pooled[in_one], expected)


def test_population_tie_break_reaches_low_fpr_where_per_class_ties_cannot():
    logits, labels, plan = class_cube(models=8, examples=3000, auxiliary=60)  # 20 auxiliary examples per class
    challenge = plan.challenge

    def tpr(rule, alpha):
        scores = scoring.leave_one_out(attacks.create("population", {"small_classes": rule}), logits, labels, plan)
        return np.array(
            [tpr_at_fpr(s[challenge], m[challenge], alpha)["tpr"] for s, m in zip(scores.scores, plan.members)]
        )

    for alpha in (0.001, 0.01):
        assert (tpr("per-class", alpha) == 0).all()  # the top tie holds about 1/21 of the non-members
        assert (tpr("tie-break", alpha) > 0).all()


def test_population_refuses_a_run_without_auxiliary_examples(location_run, data_dir):
    with pytest.raises(UserError, match="auxiliary") as error:
        miabench.evaluate(
            task="location", attacks=["population"], models=16, params={"auxiliary_fraction": "0"},
            data_dir=data_dir, out=location_run["root"] / "no-aux", cache_dir=location_run["root"] / "cache",
            progress=False,
        )  # fmt: skip
    assert "\n" not in str(error.value)
