"""The simple attacks: confidence, entropy, modified entropy, gap, population, reference, blind."""

import json

import numpy as np
import pytest
import torch
from test_attacks import mean_auc, synthetic_cube

from miabench import runner, scoring
from miabench.api import AttackView
from miabench.errors import UserError
from miabench.metrics import auc
from miabench.plan import MembershipPlan
from miabench.registry import attacks

ATTACKS = ("confidence", "entropy", "modified-entropy", "gap", "population", "reference", "blind")


def score_one(name, log_probs, labels, auxiliary=None, **params):
    """The attack's scores of the single model whose log-probabilities ``[N, A, C]`` are given."""
    attack = attacks.create(name, params)
    statistic = attack.statistic(log_probs[None], labels)
    n = len(labels)
    auxiliary = np.zeros(n, bool) if auxiliary is None else auxiliary
    view = AttackView(scoring.take(statistic, 0), labels, statistic, np.ones((1, n), bool), auxiliary)
    return attack.score(view)


PROBS = np.array([[[0.7, 0.2, 0.1]], [[0.1, 0.3, 0.6]], [[0.5, 0.25, 0.25]]])  # [N=3, A=1, C=3]
LABELS = np.array([0, 0, 2])


def test_confidence_is_the_true_class_probability_on_the_identity_view():
    views = np.concatenate([PROBS, PROBS[:, :, ::-1]], axis=1)  # a second view that must be ignored
    np.testing.assert_allclose(score_one("confidence", np.log(views), LABELS), [0.7, 0.1, 0.25])


def test_entropy_is_minus_the_shannon_entropy():
    def h(*p):
        return -sum(q * np.log(q) for q in p)

    expected = [-h(0.7, 0.2, 0.1), -h(0.1, 0.3, 0.6), -h(0.5, 0.25, 0.25)]
    np.testing.assert_allclose(score_one("entropy", np.log(PROBS), LABELS), expected)
    # A one-hot prediction (log 0 = -inf) has zero entropy, not NaN.
    one_hot = np.array([[[0.0, -np.inf, -np.inf]]])
    assert score_one("entropy", one_hot, np.array([0]))[0] == 0.0


def test_modified_entropy_follows_song_and_mittal():
    expected = [
        -0.3 * np.log(0.7) - 0.2 * np.log(0.8) - 0.1 * np.log(0.9),
        -0.9 * np.log(0.1) - 0.3 * np.log(0.7) - 0.6 * np.log(0.4),
        -0.75 * np.log(0.25) - 0.5 * np.log(0.5) - 0.25 * np.log(0.75),
    ]
    np.testing.assert_allclose(score_one("modified-entropy", np.log(PROBS), LABELS), np.negative(expected))
    # Unlike plain entropy, it tells a confident right answer from a confident wrong one.
    right, wrong = score_one("modified-entropy", np.log(PROBS[[0, 0]]), np.array([0, 1]))
    assert right > wrong


def test_modified_entropy_stays_finite_and_exact_when_a_probability_rounds_to_one():
    log_probs = scoring.observe(np.array([[[60.0, 0.0, 0.0]]] * 2), "scores")
    assert np.exp(log_probs[0, 0, 0]) == 1.0  # naive log(1 - p) would be -inf
    right, wrong = score_one("modified-entropy", log_probs, np.array([0, 1]))
    # Wrong: -(1 - p_1) log p_1 ~ 60 and -p_0 log(1 - p_0) = -log(2 e^-60) = 60 - log 2.
    np.testing.assert_allclose(wrong, -(120 - np.log(2)), rtol=1e-12)
    assert np.isfinite(right) and -1e-40 < right <= 0
    # Exact zeros (log p = -inf) are floored, not propagated.
    assert np.isfinite(
        score_one("modified-entropy", np.array([[[0.0, -np.inf]], [[-np.inf, 0.0]]]), np.array([0, 0]))
    ).all()


def test_gap_scores_correctness_of_the_predicted_label():
    logits = np.array([[[2.0, 1.0, 0.0]], [[0.0, 3.0, 1.0]], [[0.0, 0.0, 5.0]]])
    assert attacks.create("gap").threat_model().access == "label"
    one_hot = scoring.observe(logits, "label")
    np.testing.assert_array_equal(score_one("gap", one_hot, np.array([0, 0, 2])), [1.0, 0.0, 1.0])


def class_cube(models=8, examples=900, auxiliary=300, seed=0):
    """Three classes of very different difficulty; members get +1.5 on the true-class logit."""
    rng = np.random.default_rng(seed)
    plan = MembershipPlan.balanced(models, examples, seed, auxiliary)
    labels = rng.integers(0, 3, examples)
    true_logit = np.array([-3.0, 0.0, 3.0])[labels] + 1.5 * plan.members + rng.normal(0, 0.7, plan.members.shape)
    logits = np.zeros((models, examples, 1, 3))
    logits[:, np.arange(examples), 0, labels] = true_logit
    return logits, labels, plan


def test_population_ranks_members_by_per_class_percentiles():
    logits, labels, plan = class_cube()
    scores = scoring.leave_one_out(attacks.create("population"), logits, labels, plan).scores
    assert ((scores >= 0) & (scores <= 1)).all()
    challenge = plan.challenge
    population = np.mean([auc(s[challenge], m[challenge]) for s, m in zip(scores, plan.members)])
    assert population > 0.6
    # Per-class thresholds undo the classes' different difficulty, which one global threshold cannot.
    assert population > mean_auc("loss", (logits, labels, plan)) + 0.05


def test_population_compares_only_with_auxiliary_examples_of_the_same_class():
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


def test_reference_calibrates_per_example_difficulty_that_loss_cannot():
    cube = synthetic_cube()
    loss, reference = mean_auc("loss", cube), mean_auc("reference", cube)
    assert loss < 0.7 and reference > 0.8 and reference > loss + 0.15


def test_reference_refuses_an_example_without_out_reference():
    log_probs = np.log(np.array([[[0.6, 0.4]], [[0.3, 0.7]]]))
    attack = attacks.create("reference")
    statistic = attack.statistic(np.stack([log_probs] * 3), np.array([0, 1]))
    members = np.array([[True, False], [True, True]])  # example 0 is IN in both references
    view = AttackView(statistic[0], np.array([0, 1]), statistic[1:], members, np.zeros(2, bool))
    with pytest.raises(UserError, match="did not train") as error:
        attack.score(view)
    assert "\n" not in str(error.value)
    members[0, 0] = False
    np.testing.assert_allclose(attack.score(view), [0.0, 0.0])


def test_blind_finds_a_biased_split_and_nothing_in_a_random_one():
    rng = np.random.default_rng(0)
    models, examples = 8, 1200
    inputs = torch.tensor(rng.normal(size=(examples, 40)), dtype=torch.float32)
    labels = rng.integers(0, 4, examples)
    outputs = np.zeros((models, examples, 1, 4))
    blind = attacks.create("blind")

    def blind_auc(members):
        plan = MembershipPlan(members)
        scores = scoring.leave_one_out(blind, outputs, labels, plan, inputs=inputs).scores
        return np.mean([auc(s, m) for s, m in zip(scores, members)])

    # Members over-drawn from examples whose inputs point one way: the data alone gives them away.
    direction = inputs.numpy() @ rng.normal(size=40)
    biased = rng.random((models, examples)) < np.where(direction > 0, 0.8, 0.2)
    assert blind_auc(biased) > 0.7
    assert abs(blind_auc(MembershipPlan.balanced(models, examples, 0).members) - 0.5) < 0.05
    # Without inputs (a signals file) it still runs, on the labels alone.
    plan = MembershipPlan.balanced(models, examples, 0, 100)
    assert np.isfinite(scoring.leave_one_out(blind, outputs, labels, plan).scores).all()


def test_threat_models():
    threats = {name: attacks.create(name).threat_model() for name in ATTACKS}
    assert {name: t.access for name, t in threats.items()} == {
        "confidence": "scores",
        "entropy": "scores",
        "modified-entropy": "scores",
        "gap": "label",
        "population": "scores",
        "reference": "scores",
        "blind": "label",
    }
    assert threats["population"].auxiliary and threats["reference"].min_references == 2
    assert threats["blind"].min_references == 1
    for name in ATTACKS:
        assert "@" in attacks.create(name).citation


@pytest.fixture(scope="module")
def location_runs(location_run, data_dir):
    """Every attack of this file (and LOSS) on the cached location models, twice."""

    def run(out):
        records = runner.run(
            task="location",
            attacks=[*ATTACKS, "loss"],
            models=16,
            data_dir=data_dir,
            out=location_run["root"] / out,
            cache_dir=location_run["root"] / "cache",
            progress=False,
        )
        return {record["attack"]["name"]: record for record in records}

    return run("basic-1"), run("basic-2"), location_run["root"]


def test_on_real_models_gap_auc_is_the_generalization_gap(location_runs):
    records, _, root = location_runs
    with np.load(root / "basic-1" / "gap" / "scores.npz") as saved:
        scores, members = saved["scores"], saved["members"]
    challenge = members.any(axis=0)
    train = np.array([s[m].mean() for s, m in zip(scores, members)])
    test = np.array([s[challenge & ~m].mean() for s, m in zip(scores, members)])
    assert np.isin(scores, [0.0, 1.0]).all()
    assert abs(records["gap"]["metrics"]["auc"]["mean"] - np.mean((1 + train - test) / 2)) < 1e-9


def test_on_real_models_blind_is_at_chance(location_runs):
    low, high = location_runs[0]["blind"]["metrics"]["auc"]["ci95"]
    assert low <= 0.5 <= high


def test_on_real_models_reference_beats_loss_at_low_fpr(location_runs):
    reference, loss = location_runs[0]["reference"]["metrics"], location_runs[0]["loss"]["metrics"]
    assert reference["auc"]["mean"] > 0.6
    assert reference["tpr_at_fpr"]["0.01"]["ci95"][0] > loss["tpr_at_fpr"]["0.01"]["ci95"][1]


def test_on_real_models_every_attack_is_deterministic(location_runs):
    first, second, root = location_runs
    for name in [*ATTACKS, "loss"]:
        keys = ("metrics", "per_target", "metrics_by_subgroup")
        assert json.dumps([first[name][k] for k in keys]) == json.dumps([second[name][k] for k in keys]), name
        with np.load(root / "basic-1" / name / "scores.npz") as a, np.load(root / "basic-2" / name / "scores.npz") as b:
            assert np.array_equal(a["scores"], b["scores"]), name


def test_population_refuses_a_run_without_auxiliary_examples(location_run, data_dir):
    with pytest.raises(UserError, match="auxiliary") as error:
        runner.run(
            task="location",
            attacks=["population"],
            models=16,
            params={"auxiliary_fraction": "0"},
            data_dir=data_dir,
            out=location_run["root"] / "no-aux",
            cache_dir=location_run["root"] / "cache",
            progress=False,
        )
    assert "\n" not in str(error.value)
