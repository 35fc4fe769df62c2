"""Confidence intervals resample pairs of models on a paired plan (they share their references), targets
otherwise; the record states the unit, and validation recomputes the CIs with it."""

import json

import numpy as np
import pytest

import miabench
from miabench import measure
from miabench.errors import UserError
from miabench.leaderboard import entries, validate
from miabench.metrics import FPR_LEVELS, aggregate
from miabench.plan import MembershipPlan
from miabench.record import Entry, Metrics


def _target(k, value):
    """Target k's metrics, every one equal to ``value``."""
    level = {"tpr": value, "realised_fpr": 0.0, "threshold": 1.0, "n_nonmembers": 100}
    return {"target": k, "auc": value, "balanced_accuracy": value, "advantage": value,
            "tpr_at_fpr": {f"{a:g}": dict(level) for a in FPR_LEVELS}}  # fmt: skip


def width(summary):
    low, high = summary["ci95"]
    return high - low


def test_the_pairs_of_models_are_resampled_together():
    values = [0.55, 0.6, 0.7, 0.9]
    twins = [_target(k, values[k // 2]) for k in range(8)]  # both models of a pair alike
    by_pairs = aggregate(twins, seed=5, unit="pairs")
    # Drawing pairs is drawing the four pair values: the same draws, each pair counting twice.
    per_pair = aggregate([_target(j, value) for j, value in enumerate(values)], seed=5)
    assert by_pairs["auc"]["ci95"] == per_pair["auc"]["ci95"]
    assert by_pairs["tpr_at_fpr"]["0.01"]["ci95"] == per_pair["tpr_at_fpr"]["0.01"]["ci95"]
    # Drawing the eight targets apart takes the twins for independent: a narrower CI, the same mean and std.
    by_targets = aggregate(twins, seed=5)
    assert width(by_targets["auc"]) < width(by_pairs["auc"])
    assert {key: by_targets["auc"][key] for key in ("mean", "std")} == {
        key: by_pairs["auc"][key] for key in ("mean", "std")
    }
    assert by_pairs["ci_unit"] == "pairs" and "ci_unit" not in by_targets


def test_a_pair_left_with_one_target_is_a_unit_of_one():
    values = {0: 0.6, 1: 0.62, 2: 0.9, 4: 0.7, 5: 0.74}  # target 3 undefined: pair 1 is target 2 alone
    record = aggregate([_target(k, value) for k, value in values.items()], seed=1, unit="pairs")
    pairs = [[0.6, 0.62], [0.9], [0.7, 0.74]]
    draws = np.random.default_rng(1).integers(0, 3, size=(1000, 3))
    means = [np.mean([value for j in drawn for value in pairs[j]]) for drawn in draws]
    np.testing.assert_allclose(record["auc"]["ci95"], np.percentile(means, [2.5, 97.5]), rtol=1e-12)
    assert record["auc"]["mean"] == pytest.approx(np.mean(list(values.values())))


def test_an_unknown_unit_is_refused():
    with pytest.raises(UserError, match="unknown CI unit 'models'"):
        aggregate([_target(0, 0.5)], unit="models")


def _signals(members, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(*members.shape, 1, 2)).astype(np.float32)
    logits[..., 0, 0] += 1.5 * members
    return {"logits": logits, "labels": np.zeros(members.shape[1], dtype=np.int64), "members": members}


def test_the_record_states_the_unit_of_its_plan(tmp_path):
    paired = MembershipPlan.balanced(8, 120, 0).members
    coin_flips = np.random.default_rng(0).random((32, 60)) < 0.5  # not paired, and leaking nothing
    assert measure.ci_unit(paired) == "pairs" and measure.ci_unit(coin_flips) == "targets"
    (record,) = miabench.score(_signals(paired), "boundary-targeted", out=tmp_path / "paired")
    measured = [record.metrics, record.base_metrics, *record.metrics_by_subgroup.values()]
    assert {metrics.ci_unit for metrics in measured if metrics is not None} == {"pairs"}
    assert json.loads((tmp_path / "paired" / "result.json").read_text())["metrics"]["ci_unit"] == "pairs"
    (record,) = miabench.score(_signals(coin_flips), "loss", out=tmp_path / "flips")
    assert record.metrics.ci_unit == "targets"
    # Stated only for pairs: a record without it resampled targets, as every record before the unit did.
    assert "ci_unit" not in json.loads((tmp_path / "flips" / "result.json").read_text())["metrics"]


def test_validation_recomputes_the_cis_with_the_stated_unit():
    (record,) = miabench.score(_signals(MembershipPlan.balanced(8, 120, 0).members), "loss")
    assert record.metrics.ci_unit == "pairs" and validate.aggregated_metrics(record) == []
    per_target = [target.model_dump() for target in record.per_target]
    by_targets = aggregate(per_target, seed=record.seed) | {"targets": 8, "examples": record.metrics.examples}
    as_targets = record.model_copy(update={"metrics": Metrics.model_validate(validate.as_json(by_targets))})
    assert as_targets.metrics.ci_unit == "targets" and validate.aggregated_metrics(as_targets) == []
    assert as_targets.metrics.auc.ci95 != record.metrics.auc.ci95

    def edited(stated, **change):
        return stated.model_copy(update={"metrics": stated.metrics.model_copy(update=change)})

    for stated in (record, as_targets):
        wider = stated.metrics.auc.model_copy(update={"ci95": [stated.metrics.auc.ci95[0] - 0.01, 1.0]})
        assert validate.aggregated_metrics(edited(stated, auc=wider)) != []
    # The pairs' CIs stated as the targets' (or the other way round) are not what that unit gives.
    assert validate.aggregated_metrics(edited(record, ci_unit="targets")) != []
    assert validate.aggregated_metrics(edited(as_targets, ci_unit="pairs")) != []


def test_committed_entries_resampled_targets_and_dump_as_written():
    path = next(entries.ENTRIES_DIR.rglob("lira--none--*.json"))
    written = json.loads(path.read_text())
    entry = Entry.model_validate(written)
    assert entry.metrics.ci_unit == "targets"
    # The verified ledger hashes the dump: the default unit must not appear in it.
    assert entry.model_dump()["metrics"] == written["metrics"]
    assert validate.aggregated_metrics(entry) == []
