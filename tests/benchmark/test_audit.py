"""The empirical privacy audit (miabench.audit) and the worst-class utility: bounds that can fail, and hash safety."""

import json
from pathlib import Path

import numpy as np
import pytest

import miabench
from miabench import audit, measure, record
from miabench.leaderboard import ledger
from miabench.plan import MembershipPlan
from miabench.registry import Entry, tasks

ENTRIES = Path(__file__).resolve().parents[2] / "leaderboard" / "entries"


def _members(models=4, examples=2000, seed=0) -> np.ndarray:
    return MembershipPlan.balanced(models, examples, seed).members


def test_perfectly_separable_scores_give_a_large_bound_and_random_ones_none():
    members = _members()
    separable = audit.audit(members.astype(float), members)  # every member 1, every non-member 0
    # Every evaluation member above each threshold and no non-member: the bound is log(TPR_lo / FPR_hi) of those
    # counts, each one-sided interval at confidence 1 - alpha / 2, alpha the 5% split over the 6 operating points.
    alpha = (1 - audit.CONFIDENCE) / 6
    tp, p, fp, n = audit.counts(members.astype(float), members, members | True, 0.001)
    assert (tp, fp) == (p, 0) and p + n == 4 * 1000
    expected = np.log(audit.lower(p, p, alpha / 2) / audit.upper(0, n, alpha / 2))
    assert separable["epsilon_lower_bound"] == pytest.approx(expected, abs=1e-5)
    assert separable["epsilon_lower_bound"] > 5
    for seed in range(3):
        noise = np.random.default_rng(seed).normal(size=members.shape)
        assert audit.audit(noise, members)["epsilon_lower_bound"] < 0.1


def test_bound_grows_with_evidence_and_shrinks_with_delta():
    members = _members()
    rng = np.random.default_rng(1)
    weak, strong = (audit.audit(members * shift + rng.normal(size=members.shape), members) for shift in (1.0, 3.0))
    assert 0 < weak["epsilon_lower_bound"] < strong["epsilon_lower_bound"]
    scores = members * 3.0 + rng.normal(size=members.shape)
    assert audit.audit(scores, members, delta=0.2)["epsilon_lower_bound"] < audit.audit(scores, members)[
        "epsilon_lower_bound"]  # fmt: skip
    # Clopper–Pearson bounds at hand-checked values: 0 of n has lower bound 0; n of n upper bound 1.
    assert audit.lower(0, 10, 0.05) == 0 and audit.upper(10, 10, 0.05) == 1
    assert audit.upper(0, 100, 0.05) == pytest.approx(1 - 0.05 ** (1 / 100))


def test_worst_class_recall_is_each_models_lowest_class_recall():
    labels = np.array([0, 0, 1, 1, 2, 2])
    predictions = np.array([[0, 0, 1, 0, 2, 2], [0, 1, 1, 1, 0, 0]])  # recalls: (1, .5, 1) and (.5, 1, 0)
    utility = measure.utility_of_predictions(predictions, labels, 3)
    assert utility["worst_class_recall"] == {"mean": 0.25, "std": pytest.approx(np.std([0.5, 0.0], ddof=1))}
    assert utility["balanced_accuracy"]["mean"] == pytest.approx((2.5 / 3 + 1.5 / 3) / 2)


def test_new_fields_are_stated_only_when_set_so_committed_hashes_hold():
    path = min(ENTRIES.rglob("*.json"))
    stated = json.loads(path.read_text())
    entry = record.Entry.model_validate(stated)
    assert entry.audit is None and entry.utility.worst_class_recall is None
    assert record.json_safe(entry.model_dump()) == stated  # dumps as written: the ledger's hash is unchanged
    assert ledger.content_sha256(entry) == ledger.content_sha256(record.Entry.model_validate(entry.model_dump()))


def test_dpsgd_audit_never_exceeds_the_accountants_epsilon(tmp_path, monkeypatch, toy_task):
    """A toy DP-SGD run (K = 4, 2 epochs, epsilon = 1): every attack's record carries the lower bound beside the
    accountant's epsilon, and the bound is below it."""
    import torch

    from tests.conftest import ToyTask

    tasks.names()  # the built-ins first, so the toy task is one more
    monkeypatch.setitem(tasks._entries, "toy", Entry("toy", ToyTask, {}))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        records = miabench.evaluate(task="toy", attacks=["loss", "lira"], defense="dpsgd", models=4,
                                    params={"epochs": 2, "epsilon": 1, "examples": 400}, out=tmp_path / "out",
                                    cache_dir=tmp_path / "cache", progress=False)  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    for written in records:
        accountant = max(written.defense.facts["epsilon"].per_model)
        assert accountant == pytest.approx(1, abs=0.05)
        assert written.audit is not None and written.audit.delta == max(written.defense.facts["delta"].per_model)
        assert 0 <= written.audit.epsilon_lower_bound <= accountant
        assert written.utility.worst_class_recall is not None
        assert written.utility.worst_class_recall.mean <= written.utility.balanced_accuracy.mean
    # The record as written validates against its scores file: the audit is recomputed from them.
    from miabench.leaderboard import validate

    lira = record.read(tmp_path / "out" / "lira" / "result.json")
    assert validate.scores(lira, tmp_path / "out" / "lira" / "scores.npz") == []
    edited = lira.model_copy(update={"audit": lira.audit.model_copy(update={"epsilon_lower_bound": 0.9})})
    assert validate.scores(edited, tmp_path / "out" / "lira" / "scores.npz") != []
