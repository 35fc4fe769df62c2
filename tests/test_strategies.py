"""Boundary-targeted selection, counted label-only queries, subgroups and per-example vulnerability."""

import numpy as np
import pytest
from test_attacks import synthetic_cube

from miabench import runner, scoring
from miabench.errors import UserError
from miabench.registry import attacks
from miabench.vulnerability import most_vulnerable, vulnerability


def test_boundary_targeted_chooses_the_least_confident_of_each_class():
    attack = attacks.create("boundary-targeted", {"fraction": "0.25"})
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 0])
    confidence = np.array([0.9, 0.1, 0.5, 0.3, 0.2, 0.8, 0.05, 0.6, 0.7, 0.0])
    candidates = np.ones(10, bool)
    candidates[9] = False  # auxiliary: never chosen
    chosen = attack.chosen(confidence, labels, candidates)
    assert np.flatnonzero(chosen).tolist() == [1, 4, 6]  # ceil(0.25 * 4) = 1 of class 0, ceil(0.25 * 5) = 2 of class 1
    fixed = attacks.create("boundary-targeted", {"per_class": "3"}).chosen(confidence, labels, candidates)
    assert sorted(np.flatnonzero(fixed).tolist()) == [1, 2, 3, 4, 6, 7]


def test_boundary_targeted_reports_subset_and_base_metrics(location_run, data_dir):
    root = location_run["root"]
    (record,) = runner.run(
        attacks=["boundary-targeted"], params={"base": "lira"}, models=16, data_dir=data_dir,
        out=root / "boundary", cache_dir=root / "cache", progress=False,
    )  # fmt: skip
    assert record["timings"]["cache_hit"] is True
    base = location_run["lira"]["metrics"]
    assert record["base_metrics"]["auc"]["mean"] == pytest.approx(base["auc"]["mean"])
    challenge = record["examples"] - record["auxiliary"]
    assert record["metrics"]["examples"] == pytest.approx(0.1 * challenge, rel=0.05)
    gain = record["amplification"]["0.05"]
    assert gain == pytest.approx(record["metrics"]["tpr_at_fpr"]["0.05"]["mean"] / base["tpr_at_fpr"]["0.05"]["mean"])
    # The least confident candidates are the most exposed ones: LiRA recovers far more of them.
    assert gain > 1.5
    with np.load(root / "boundary" / "boundary-targeted" / "scores.npz") as saved:
        assert saved["chosen"].shape == saved["scores"].shape


def test_boundary_targeted_refuses_bad_params():
    with pytest.raises(UserError, match="selector"):
        attacks.create("boundary-targeted", {"selector": "oracle"})
    with pytest.raises(UserError, match="unknown attack"):
        attacks.create("boundary-targeted", {"base": "nothing"})


def test_label_only_stops_at_its_query_budget(location_run, data_dir, tmp_path):
    root = location_run["root"]

    def run(budget):
        (record,) = runner.run(
            attacks=["label-only"], params={"budget": str(budget)}, models=16, data_dir=data_dir,
            out=tmp_path / str(budget), cache_dir=root / "cache", progress=False,
        )  # fmt: skip
        return record

    small, none = run(1000), run(0)
    assert small["attack"]["queries"] == 16 * 1000  # every target's budget spent, not one query more
    assert small["attack"]["threat_model"]["queries"] == 1000
    assert none["attack"]["queries"] == 0
    assert small["metrics"]["auc"]["mean"] != none["metrics"]["auc"]["mean"]  # the queries were used
    assert small["metrics"]["auc"]["mean"] > 0.6


def test_label_only_without_models_uses_the_cube_views():
    logits, labels, plan = synthetic_cube(models=4, examples=40)
    scored = scoring.leave_one_out(attacks.create("label-only"), logits, labels, plan)
    assert scored.queries == 0
    assert set(np.unique(scored.scores)) <= {0.0, 1.0}


def test_subgroup_metrics_use_each_subgroup_alone(location_run):
    record = location_run["lira"]
    groups = record["metrics_by_subgroup"]
    assert set(groups) == {f"class:{c}" for c in range(30)} | {"outliers"}
    defined = [g for g in groups.values() if g is not None]
    assert defined
    for group in defined:
        assert group["tpr_at_fpr"]["0.01"]["n_nonmembers"] < record["metrics"]["tpr_at_fpr"]["0.01"]["n_nonmembers"]
        assert group["tpr_at_fpr"]["0.01"]["realised_fpr"] <= 0.01


def test_vulnerability_counts_catches_per_member_target():
    members = np.array([[1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 0, 1], [0, 1, 1, 0]], bool)
    # Example 0 scores highest whenever it is a member; example 1 never stands out.
    scores = np.where(members, [[5, 0, 1, 0]] * 4, 0.0).astype(float) + np.array([0, 0.1, 0.2, 0.3])
    table = vulnerability(scores, members, alpha=0.0)
    assert table.set_index("example").loc[0, "vulnerability"] == 1.0
    assert table.set_index("example").loc[1, "times_caught"] == 0


def test_most_vulnerable_reads_a_result_folder(location_run):
    table = most_vulnerable(location_run["root"] / "out" / "lira", alpha=0.01, top=5)
    assert len(table) == 5
    assert list(table.columns[:3]) == ["example", "label", "id"]
    assert table["vulnerability"].is_monotonic_decreasing
    assert table["vulnerability"].iloc[0] > 0.5
