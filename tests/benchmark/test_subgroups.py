"""Subgroup metrics: each subgroup measured on its own examples."""


def test_subgroup_metrics_use_each_subgroup_alone(location_run):
    record = location_run["lira"]
    groups = record.metrics_by_subgroup
    assert set(groups) == {f"class:{c}" for c in range(30)} | {"outliers"}
    defined = [g for g in groups.values() if g is not None]
    assert defined
    for group in defined:
        assert group.tpr_at_fpr["0.01"].n_nonmembers < record.metrics.tpr_at_fpr["0.01"].n_nonmembers
        assert group.tpr_at_fpr["0.01"].realised_fpr <= 0.01
