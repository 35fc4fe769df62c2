"""Metric semantics on hand-computed cases, plus property checks against brute force."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from miabench.errors import UserError
from miabench.metrics import (
    FPR_LEVELS,
    advantage,
    aggregate,
    auc,
    balanced_accuracy,
    roc_curve,
    target_metrics,
    tpr_at_fpr,
)

M, N = True, False


def _points(scores, is_member):
    fpr, tpr, thr = roc_curve(scores, is_member)
    return list(zip(fpr.tolist(), tpr.tolist(), thr.tolist()))


def _predict(scores, is_member, threshold):
    """(TPR, FPR) of the rule score >= threshold, by brute force."""
    scores, is_member = np.asarray(scores, dtype=float), np.asarray(is_member)
    pred = scores >= threshold
    return pred[is_member].mean(), pred[~is_member].mean()


# --- hand-computed cases ------------------------------------------------------------------


def test_perfect_separation():
    # 5 members above 10 non-members: the threshold 0.6 catches every member and no non-member,
    # so even alpha = 0.001 (which with 10 non-members only admits FPR = 0) gives TPR 1.
    scores = [0.6, 0.7, 0.8, 0.9, 1.0] + [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45]
    is_member = [M] * 5 + [N] * 10
    assert auc(scores, is_member) == 1.0
    assert balanced_accuracy(scores, is_member) == 1.0
    assert advantage(scores, is_member) == 1.0
    for alpha in FPR_LEVELS:
        assert tpr_at_fpr(scores, is_member, alpha) == {
            "tpr": 1.0,
            "realised_fpr": 0.0,
            "threshold": 0.6,
            "n_nonmembers": 10,
        }


def test_fpr_grid_is_coarse_with_few_nonmembers():
    # One of 10 non-members outscores every member. FPR can only be 0, 0.1, 0.2, ..., so alpha
    # below 0.1 admits FPR 0 only (TPR 0, threshold inf), while alpha = 0.1 admits the point that
    # takes that non-member and all members.
    scores = [0.6, 0.7, 0.8, 0.9, 1.0] + [2.0] + [0.1] * 9
    is_member = [M] * 5 + [N] * 10
    for alpha in (0.001, 0.01, 0.05):
        assert tpr_at_fpr(scores, is_member, alpha) == {
            "tpr": 0.0,
            "realised_fpr": 0.0,
            "threshold": math.inf,
            "n_nonmembers": 10,
        }
    assert tpr_at_fpr(scores, is_member, 0.1) == {
        "tpr": 1.0,
        "realised_fpr": 0.1,
        "threshold": 0.6,
        "n_nonmembers": 10,
    }


def test_reversed_scores():
    scores = [0.1, 0.2, 0.3] + [0.5, 0.6, 0.7, 0.8]
    is_member = [M] * 3 + [N] * 4
    assert auc(scores, is_member) == 0.0
    # Only the start and end points have TPR - FPR = 0; every other point is worse.
    assert advantage(scores, is_member) == 0.0
    assert balanced_accuracy(scores, is_member) == 0.5
    # TPR stays 0 until FPR reaches 1; the smallest FPR with TPR 0 is the start point.
    assert tpr_at_fpr(scores, is_member, 0.5) == {
        "tpr": 0.0,
        "realised_fpr": 0.0,
        "threshold": math.inf,
        "n_nonmembers": 4,
    }


def test_all_scores_tied():
    scores = [0.5] * 7
    is_member = [M] * 3 + [N] * 4
    assert _points(scores, is_member) == [(0.0, 0.0, math.inf), (1.0, 1.0, 0.5)]
    assert auc(scores, is_member) == 0.5
    assert advantage(scores, is_member) == 0.0
    assert balanced_accuracy(scores, is_member) == 0.5
    result = tpr_at_fpr(scores, is_member, 0.1)
    assert (result["tpr"], result["realised_fpr"], result["threshold"]) == (0.0, 0.0, math.inf)
    assert tpr_at_fpr(scores, is_member, 1.0)["tpr"] == 1.0


# score:  0.9 0.8 0.7 0.6 0.5 0.4 0.3 0.2
# label:   M   N   M   M   N   N   M   N      (4 members, 4 non-members)
#
# threshold  inf   0.9   0.8   0.7   0.6   0.5   0.4   0.3   0.2
# FPR        0     0     .25   .25   .25   .5    .75   .75   1
# TPR        0     .25   .25   .5    .75   .75   .75   1     1
#
# AUC = .25*.25 + .25*.75 + .25*.75 + .25*1 = .6875
#     = Mann-Whitney: pairs won by the members 0.9, 0.7, 0.6, 0.3 are 4 + 3 + 3 + 1 = 11 of 16.
MIXED_SCORES = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]
MIXED_LABELS = [M, N, M, M, N, N, M, N]


def test_mixed_case_roc_by_hand():
    fpr, tpr, thr = roc_curve(MIXED_SCORES, MIXED_LABELS)
    np.testing.assert_allclose(fpr, [0, 0, 0.25, 0.25, 0.25, 0.5, 0.75, 0.75, 1])
    np.testing.assert_allclose(tpr, [0, 0.25, 0.25, 0.5, 0.75, 0.75, 0.75, 1, 1])
    assert thr.tolist() == [math.inf, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]
    assert auc(MIXED_SCORES, MIXED_LABELS) == pytest.approx(0.6875)
    assert advantage(MIXED_SCORES, MIXED_LABELS) == pytest.approx(0.5)  # threshold 0.6
    assert balanced_accuracy(MIXED_SCORES, MIXED_LABELS) == pytest.approx(0.75)


def test_mixed_case_tpr_at_fpr():
    # alpha = 0.25: TPR .75 at threshold 0.6. At 0.5 and 0.4 TPR is still .75 but FPR is larger.
    assert tpr_at_fpr(MIXED_SCORES, MIXED_LABELS, 0.25) == {
        "tpr": 0.75,
        "realised_fpr": 0.25,
        "threshold": 0.6,
        "n_nonmembers": 4,
    }
    # alpha = 0.7 admits FPR .5 but gains no TPR over FPR .25, so the smaller FPR is reported.
    assert tpr_at_fpr(MIXED_SCORES, MIXED_LABELS, 0.7)["realised_fpr"] == 0.25
    # Every benchmark level is below 1/4, so only the points with FPR 0 qualify.
    metrics = target_metrics(MIXED_SCORES, MIXED_LABELS)
    assert list(metrics["tpr_at_fpr"]) == ["0.001", "0.01", "0.05", "0.1"]
    for level in metrics["tpr_at_fpr"].values():
        assert level == {"tpr": 0.25, "realised_fpr": 0.0, "threshold": 0.9, "n_nonmembers": 4}
    assert metrics["auc"] == pytest.approx(0.6875)
    assert metrics["advantage"] == pytest.approx(0.5)
    assert metrics["balanced_accuracy"] == pytest.approx(0.75)


def test_tie_between_member_and_nonmember_moves_together():
    # The member and non-member at 0.5 are one ROC point: no threshold takes one without the other.
    #
    # threshold  inf   0.9   0.5   0.1
    # FPR        0     0     .25   1
    # TPR        0     .5    1     1
    # AUC = .25 * (.5 + 1) / 2 + .75 * 1 = .9375 = (4 + 3 + 1/2) / 8
    scores = [0.9, 0.5, 0.5, 0.1, 0.1, 0.1]
    is_member = [M, M, N, N, N, N]
    assert _points(scores, is_member) == [
        (0.0, 0.0, math.inf),
        (0.0, 0.5, 0.9),
        (0.25, 1.0, 0.5),
        (1.0, 1.0, 0.1),
    ]
    assert auc(scores, is_member) == pytest.approx(0.9375)
    # FPR 0.125 would need half the tied block, so alpha = 0.2 stays at the point before it.
    assert tpr_at_fpr(scores, is_member, 0.2) == {
        "tpr": 0.5,
        "realised_fpr": 0.0,
        "threshold": 0.9,
        "n_nonmembers": 4,
    }
    assert tpr_at_fpr(scores, is_member, 0.25)["tpr"] == 1.0


def test_inputs_may_be_unsorted_numpy_arrays():
    rng = np.random.default_rng(1)
    order = rng.permutation(len(MIXED_SCORES))
    scores = np.array(MIXED_SCORES)[order]
    is_member = np.array(MIXED_LABELS)[order]
    assert auc(scores, is_member) == pytest.approx(0.6875)
    assert _points(scores, is_member) == _points(MIXED_SCORES, MIXED_LABELS)


def test_integer_scores_are_accepted():
    assert auc([3, 2, 2, 1], [M, M, N, N]) == pytest.approx(0.875)


# --- properties on random data with ties --------------------------------------------------

labelled_scores = st.lists(st.tuples(st.integers(0, 5), st.booleans()), min_size=2, max_size=40).filter(
    lambda rows: 0 < sum(m for _, m in rows) < len(rows)
)


@settings(max_examples=100, deadline=None)
@given(labelled_scores)
def test_auc_equals_mann_whitney(rows):
    scores = np.array([s for s, _ in rows], dtype=float)
    is_member = np.array([m for _, m in rows])
    pos, neg = scores[is_member], scores[~is_member]
    # Mann-Whitney U of the members: (member, non-member) pairs won by the member, ties counted 1/2.
    u = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert auc(scores, is_member) == pytest.approx(u / (pos.size * neg.size), abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(labelled_scores, st.sampled_from(FPR_LEVELS + (0.0, 0.2, 0.33, 0.5, 1.0)))
def test_tpr_at_fpr_is_reachable_and_optimal(rows, alpha):
    scores = np.array([s for s, _ in rows], dtype=float)
    is_member = np.array([m for _, m in rows])
    result = tpr_at_fpr(scores, is_member, alpha)
    assert result["realised_fpr"] <= alpha
    assert result["n_nonmembers"] == int((~is_member).sum())
    # Predicting member when score >= threshold reproduces the reported point exactly.
    tpr, fpr = _predict(scores, is_member, result["threshold"])
    assert (tpr, fpr) == (result["tpr"], result["realised_fpr"])
    # No threshold does better: higher TPR within alpha, or the same TPR at a lower FPR.
    for threshold in [math.inf, *np.unique(scores)]:
        tpr, fpr = _predict(scores, is_member, threshold)
        if fpr <= alpha:
            assert tpr <= result["tpr"]
            if tpr == result["tpr"]:
                assert fpr >= result["realised_fpr"]


@settings(max_examples=60, deadline=None)
@given(labelled_scores)
def test_roc_points_are_the_threshold_rules(rows):
    scores = np.array([s for s, _ in rows], dtype=float)
    is_member = np.array([m for _, m in rows])
    fpr, tpr, thr = roc_curve(scores, is_member)
    assert thr.size == np.unique(scores).size + 1
    assert np.all(np.diff(thr) < 0)
    for f, t, threshold in zip(fpr, tpr, thr):
        assert _predict(scores, is_member, threshold) == (t, f)
    assert advantage(scores, is_member) == pytest.approx(np.max(tpr - fpr))
    assert balanced_accuracy(scores, is_member) == pytest.approx(0.5 + np.max(tpr - fpr) / 2)


# --- aggregation --------------------------------------------------------------------------


def _target(value, n_nonmembers=100, realised_fpr=0.0):
    """A per-target record whose every metric equals ``value``."""
    level = {"tpr": value, "realised_fpr": realised_fpr, "threshold": 1.0, "n_nonmembers": n_nonmembers}
    return {
        "auc": value,
        "balanced_accuracy": value,
        "advantage": value,
        "tpr_at_fpr": {f"{a:g}": dict(level) for a in FPR_LEVELS},
    }


def test_aggregate_hand_example():
    record = aggregate([_target(0.6, 100, 0.0), _target(0.7, 120, 0.001), _target(0.8, 80, 0.002)])
    assert set(record) == {"auc", "balanced_accuracy", "advantage", "tpr_at_fpr"}
    assert list(record["tpr_at_fpr"]) == ["0.001", "0.01", "0.05", "0.1"]
    for entry in [record["auc"], record["balanced_accuracy"], record["advantage"], *record["tpr_at_fpr"].values()]:
        assert entry["mean"] == pytest.approx(0.7)
        assert entry["std"] == pytest.approx(0.1)  # sqrt((0.01 + 0 + 0.01) / 2)
        lo, hi = entry["ci95"]
        # Bootstrap means of three values lie in [0.6, 0.8] (up to rounding); the CI brackets the mean.
        assert 0.6 - 1e-12 <= lo < 0.7 < hi <= 0.8 + 1e-12
    level = record["tpr_at_fpr"]["0.01"]
    assert level["realised_fpr"] == pytest.approx(0.001)
    assert level["n_nonmembers"] == 80  # the minimum: the coarsest FPR grid
    assert set(level) == {"mean", "std", "ci95", "realised_fpr", "n_nonmembers"}


def test_aggregate_two_extreme_targets_from_scores():
    perfect = target_metrics([0.9, 0.8, 0.1, 0.2, 0.3], [M, M, N, N, N])
    reversed_ = target_metrics([0.1, 0.2, 0.8, 0.9], [M, M, N, N])
    record = aggregate([perfect, reversed_])
    assert record["auc"]["mean"] == 0.5
    assert record["auc"]["std"] == pytest.approx(math.sqrt(0.5))
    # Bootstrap means of {0, 1} are 0, 1/2 or 1; with 1000 resamples both ends appear.
    assert record["auc"]["ci95"] == [0.0, 1.0]
    assert record["tpr_at_fpr"]["0.1"]["mean"] == 0.5
    assert record["tpr_at_fpr"]["0.1"]["realised_fpr"] == 0.0
    assert record["tpr_at_fpr"]["0.1"]["n_nonmembers"] == 2


def test_aggregate_single_target():
    record = aggregate([target_metrics(MIXED_SCORES, MIXED_LABELS)])
    assert record["auc"] == {"mean": 0.6875, "std": 0.0, "ci95": [0.6875, 0.6875]}
    assert record["tpr_at_fpr"]["0.1"] == {
        "mean": 0.25,
        "std": 0.0,
        "ci95": [0.25, 0.25],
        "realised_fpr": 0.0,
        "n_nonmembers": 4,
    }


def test_aggregate_is_deterministic_and_json_safe():
    rng = np.random.default_rng(0)
    targets = [_target(float(v), int(n)) for v, n in zip(rng.uniform(0.5, 0.9, 8), rng.integers(50, 60, 8))]
    first = aggregate(targets, seed=3)
    assert aggregate(targets, seed=3) == first
    assert aggregate(targets, seed=4)["auc"]["ci95"] != first["auc"]["ci95"]
    assert json.loads(json.dumps(first, allow_nan=False)) == first
    for entry in [first["auc"], *first["tpr_at_fpr"].values()]:
        lo, hi = entry["ci95"]
        assert lo <= entry["mean"] <= hi
        assert type(entry["mean"]) is float and type(entry["std"]) is float
    assert type(first["tpr_at_fpr"]["0.1"]["n_nonmembers"]) is int


# --- input errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "is_member", "words"),
    [
        ([0.1, 0.2, 0.3], [M, N], "entries"),
        ([[0.1, 0.2]], [[M, N]], "1-D"),
        ([0.1, 0.2], [1, 0], "boolean"),
        ([0.1, 0.2], [M, M], "non-member"),
        ([0.1, 0.2], [N, N], "member"),
        ([], np.array([], dtype=bool), "member"),
        ([0.1, float("nan")], [M, N], "NaN"),
        ([0.1, float("inf")], [M, N], "infinite"),
        (["a", "b"], [M, N], "real numbers"),
    ],
)
def test_bad_inputs_raise_user_error(scores, is_member, words):
    for call in (roc_curve, auc, balanced_accuracy, advantage, target_metrics):
        with pytest.raises(UserError, match=words):
            call(scores, is_member)
    with pytest.raises(UserError, match=words):
        tpr_at_fpr(scores, is_member, 0.01)


def test_bad_alpha_and_aggregate_arguments_raise_user_error():
    with pytest.raises(UserError, match="alpha"):
        tpr_at_fpr(MIXED_SCORES, MIXED_LABELS, 1.5)
    with pytest.raises(UserError, match="at least one target"):
        aggregate([])
    with pytest.raises(UserError, match="n_bootstrap"):
        aggregate([_target(0.5)], n_bootstrap=0)


def test_error_messages_are_one_line():
    with pytest.raises(UserError) as caught:
        auc([0.1, 0.2, 0.3], [M, N])
    assert "\n" not in str(caught.value)
