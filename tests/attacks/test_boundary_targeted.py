"""Boundary-targeted: a base attack on the least confident candidates of each class."""

import numpy as np
import pytest

import miabench
from miabench.errors import UserError
from miabench.registry import attacks


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
    (record,) = miabench.evaluate(
        attacks=["boundary-targeted"], params={"base": "lira"}, models=16, data_dir=data_dir,
        out=root / "boundary", cache_dir=root / "cache", progress=False,
    )  # fmt: skip
    assert record.timings.cache_hit is True
    assert record.attack.params["base"] == "lira"
    base = location_run["lira"].metrics
    assert record.base_metrics.auc.mean == pytest.approx(base.auc.mean)
    challenge = record.examples - record.auxiliary
    assert record.metrics.examples == pytest.approx(0.1 * challenge, rel=0.05)
    gain = record.amplification["0.05"]
    assert gain == pytest.approx(record.metrics.tpr_at_fpr["0.05"].mean / base.tpr_at_fpr["0.05"].mean)
    # The least confident candidates are the most exposed ones: LiRA recovers far more of them.
    assert gain > 1.5
    with np.load(root / "boundary" / "boundary-targeted" / "scores.npz") as saved:
        assert saved["chosen"].shape == saved["scores"].shape


def test_boundary_targeted_refuses_bad_params():
    with pytest.raises(UserError, match="selector"):
        attacks.create("boundary-targeted", {"selector": "oracle"})
    with pytest.raises(UserError, match="attack 'boundary-targeted' parameter 'base': 'nothing' is not an attack"):
        attacks.create("boundary-targeted", {"base": "nothing"})


def test_boundary_targeted_takes_the_base_attacks_needs():
    # LiRA online needs IN references: so does boundary-targeted over it; gap's label access is raised to scores.
    over_lira = attacks.create("boundary-targeted", {"base": "lira"}).threat_model()
    assert (over_lira.access, over_lira.min_references, over_lira.online) == ("scores", 2, True)
    over_gap = attacks.create("boundary-targeted", {"base": "gap", "selector": "target"}).threat_model()
    assert (over_gap.access, over_gap.min_references) == ("scores", 0)
