"""Attack-P: per-class percentiles against the auxiliary (known non-member) examples."""

import numpy as np
import pytest

import miabench
from miabench import scoring
from miabench.errors import UserError
from miabench.metrics import auc
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
    logits, labels, plan = class_cube()
    scores = scoring.leave_one_out(attacks.create("population"), logits, labels, plan).scores
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
    scores = score_one("population", log_probs, labels, auxiliary)
    # Class 0's auxiliary values are {-3, -1}: -2 beats one of two; -1 ties one (1/2) and beats one.
    # Against all five auxiliary values they would score 1/5 and 1.5/5 instead.
    np.testing.assert_allclose(scores[5:7], [0.5, 0.75])
    # Class 1's are {-0.5, -0.2, -0.1}: -0.3 beats one (3/5 against all five).
    # Class 2 has none, so all five serve: -0.15 beats four.
    np.testing.assert_allclose(scores[7:], [1 / 3, 0.8])


def test_population_refuses_a_run_without_auxiliary_examples(location_run, data_dir):
    with pytest.raises(UserError, match="auxiliary") as error:
        miabench.evaluate(
            task="location", attacks=["population"], models=16, params={"auxiliary_fraction": "0"},
            data_dir=data_dir, out=location_run["root"] / "no-aux", cache_dir=location_run["root"] / "cache",
            progress=False,
        )  # fmt: skip
    assert "\n" not in str(error.value)
